import { describe, expect, it } from 'vitest';
import { comparisonCsv, csvCell, metricsCsv, paramsCsv, toCsv } from '../../src-main/weights/csv.ts';

/** A strict RFC 4180 reader, written independently of the writer, for round trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') throw new Error(`bare ${JSON.stringify(text[i])} in unquoted field`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
  }
  if (row.length) throw new Error('missing final CRLF');
  return rows;
}

describe('CSV export', () => {
  it('quotes commas, quotes, CR and LF (RFC 4180) and round-trips through a strict reader', () => {
    const nasty = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', '', ' spaced ', 'ünïcødé ✓'];
    const text = toCsv([nasty]);
    expect(text).toBe('plain,"a,b","say ""hi""","two\nlines","cr\rhere",, spaced ,ünïcødé ✓\r\n');
    expect(parseCsv(text)).toEqual([nasty]);
  });

  it('neutralises text that a spreadsheet would run as a formula, but keeps numbers numeric', () => {
    expect(csvCell('=HYPERLINK("http://x","click")')).toBe(`"'=HYPERLINK(""http://x"",""click"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell(-0.5)).toBe('-0.5');
    expect(csvCell(1e-7)).toBe('1e-7');
    expect(csvCell(NaN)).toBe('NaN');
    expect(csvCell(-Infinity)).toBe('-Infinity');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(true)).toBe('true');
  });

  it('metrics: run_id,key,step,value,time with full float precision', () => {
    const text = metricsCsv([
      { runId: 3, key: 'train/loss', step: 10, value: 0.1 + 0.2, time: 1717000000123 },
      { runId: 3, key: 'val,acc "x"', step: 20, value: -1.25, time: 1717000000456 },
    ]);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(['run_id', 'key', 'step', 'value', 'time']);
    expect(rows[1]).toEqual(['3', 'train/loss', '10', '0.30000000000000004', '1717000000123']);
    expect(rows[2]).toEqual(['3', 'val,acc "x"', '20', '-1.25', '1717000000456']);
    expect(Number(rows[1]![3])).toBe(0.1 + 0.2);
  });

  it('params: the same long layout with step and time empty', () => {
    const rows = parseCsv(paramsCsv([{ runId: 'r1', params: { lr: 0.001, 'lora.r': 4, name: '=cmd', classes: null, on: false } }]));
    expect(rows).toEqual([
      ['run_id', 'key', 'step', 'value', 'time'],
      ['r1', 'lr', '', '0.001', ''],
      ['r1', 'lora.r', '', '4', ''],
      ['r1', 'name', '', "'=cmd", ''],
      ['r1', 'classes', '', '', ''],
      ['r1', 'on', '', 'false', ''],
    ]);
  });

  it('comparison: one column per run, params, metric summaries and evaluations', () => {
    const rows = parseCsv(
      comparisonCsv({
        runs: [{ id: 1, name: 'base, v1' }, { id: 2, name: '-lora' }],
        params: [{ path: 'lr', values: [0.001, 0.01] }, { path: 'lora.r', values: [null, 4] }],
        summary: [{ key: 'train/loss', perRun: [{ final: 0.2, best: 0.1, min: 0.1, max: 2, bestStep: 90 }, null] }],
        evaluations: [{}, { after: { accuracy: 0.97, wrongPerClass: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } }],
      }),
    );
    expect(rows[0]).toEqual(['field', 'base, v1', "'-lora"]);
    expect(rows[1]).toEqual(['run_id', '1', '2']);
    expect(rows[2]).toEqual(['param:lr', '0.001', '0.01']);
    expect(rows[3]).toEqual(['param:lora.r', '', '4']);
    expect(rows[4]).toEqual(['metric:train/loss:final', '0.2', '']);
    expect(rows[5]).toEqual(['metric:train/loss:best', '0.1', '']);
    expect(rows[6]).toEqual(['metric:train/loss:best_step', '90', '']);
    expect(rows[7]).toEqual(['eval:accuracy', '', '0.97']);
    expect(rows[8]).toEqual(['eval:wrong:0', '', '1']);
    expect(rows).toHaveLength(18);
    expect(rows.every((r) => r.length === 3)).toBe(true);
  });
});
