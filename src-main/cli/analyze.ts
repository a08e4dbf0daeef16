/**
 * `lora-lab analyze ADAPTER [--vs ADAPTER] [--intruders K,EPS | --no-intruders]`: what
 * an adapter's update looks like per layer (LabApi.analyzeAdapter): ΔW's spectrum and
 * ranks, its size against W0, the amplification factor, intruder dimensions, and with
 * --vs the subspace similarity φ. --json prints the analysis (without the pictures,
 * which are for the app).
 */
import type { AdapterAnalysis, AnalysisTarget, AnalyzeRequest, AnalyzedUpdate, SubspaceSimilarity } from '../contract/analysis.ts';
import { INTRUDER_LIMITS } from '../contract/analysis.ts';
import { UsageError, commonFlags, parse } from './options.ts';
import type { Session } from './session.ts';
import { pct, sig, table } from './table.ts';

/** `a2`: adapter 2; `m4`: model 4 (a full fine-tune's or a merge's, against its parent); `r5` or `5`: what run 5 stored. */
export function parseAnalysisTarget(ref: string | undefined, flag = 'ADAPTER'): AnalysisTarget {
  if (!ref) throw new UsageError(`analyze needs ${flag}: an adapter (a2), a fine-tune run (5 or r5) or a fine-tuned or merged model (m4)`);
  const m = /^(r|a|m)?(\d+)$/.exec(ref.trim());
  if (!m || Number(m[2]) < 1) throw new UsageError(`"${ref}" is not an adapter (a2), a run (5 or r5) or a model (m4)`);
  return { kind: m[1] === 'a' ? 'adapter' : m[1] === 'm' ? 'model' : 'run', id: Number(m[2]) };
}

/** `10,0.5` → { k: 10, epsilon: 0.5 }. */
export function parseIntruders(text: string): { k: number; epsilon: number } {
  const m = /^\s*(\d+)\s*,\s*([0-9.eE+-]+)\s*$/.exec(text);
  const k = m ? Number(m[1]) : NaN;
  const epsilon = m ? Number(m[2]) : NaN;
  if (!Number.isInteger(k) || k < 1 || k > INTRUDER_LIMITS.maxK || !(epsilon > 0 && epsilon <= 1)) {
    throw new UsageError(`--intruders takes K,EPS: K directions (1–${INTRUDER_LIMITS.maxK}) and a cosine EPS in (0, 1], e.g. 10,0.5; got "${text}"`);
  }
  return { k, epsilon };
}

export async function analyzeCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, vs: { type: 'string' }, intruders: { type: 'string' }, 'no-intruders': { type: 'boolean' } }, true);
  if (positionals.length > 1) throw new UsageError(`analyze takes one ADAPTER (compare another with --vs), got ${positionals.length}`);
  if (values['intruders'] !== undefined && values['no-intruders']) throw new UsageError('--intruders and --no-intruders contradict each other');
  const req: AnalyzeRequest = { target: parseAnalysisTarget(positionals[0]) };
  if (typeof values['vs'] === 'string') req.vs = parseAnalysisTarget(values['vs'], '--vs');
  if (typeof values['intruders'] === 'string') req.intruders = parseIntruders(values['intruders']);
  if (values['no-intruders']) req.intruders = false;
  if (!s.quiet && !values['json']) process.stderr.write('analysing… (W0’s spectrum takes seconds the first time for a base)\n');
  const a = await s.lab().analyzeAdapter(req);
  if (values['json']) {
    const { pictures: _pictures, ...rest } = a;
    return s.out(JSON.stringify(rest));
  }
  s.out(analysisText(a));
}

const describe = (u: AnalyzedUpdate) =>
  u.source === 'adapter'
    ? `adapter ${u.adapterId} "${u.name}"${u.runId !== null ? ` (run ${u.runId})` : ''}: ${u.variant}, r = ${u.r}, scaling ${sig(u.scaling ?? 0, 3)}`
    : `model ${u.modelId} "${u.name}"${u.runId !== null ? ` (run ${u.runId})` : ''}: ${u.source === 'full' ? 'a full fine-tune' : 'a merge'}, ΔW = W − W0`;

export function analysisText(a: AdapterAnalysis): string {
  const k = a.layers.find((l) => l.intruders)?.intruders;
  const lines = [`${describe(a.update)}, on model ${a.base.id} "${a.base.name}"`, ''];
  lines.push(
    table(
      ['layer', 'shape [out, in]', 'ΔW from', 'σ₁', 'effective rank', 'stable rank', 'rank for 90%', '‖ΔW‖/‖W0‖', 'amplification', k ? `intruders (top ${k.k}, |cos| < ${k.epsilon})` : 'intruders'],
      a.layers.map((l) => [
        l.layer,
        `${l.shape[0]} × ${l.shape[1]}`,
        l.method === 'factors' ? `factors (${l.singularValues.length})` : 'dense W′ − W0',
        sig(l.singularValues[0] ?? 0),
        sig(l.effectiveRank, 3),
        sig(l.stableRank, 3),
        l.rank90,
        pct(l.relativeNorm),
        `${sig(l.amplification.factor, 3)} (top ${l.amplification.rank})`,
        l.intruders ? `${l.intruders.count} of ${l.intruders.k}` : '—',
      ]),
      ['l', 'r', 'l'],
    ),
  );
  lines.push('', 'singular values of ΔW, largest first:');
  for (const l of a.layers) lines.push(`  ${l.layer}: ${l.singularValues.slice(0, 8).map((x) => sig(x, 3)).join('  ')}${l.singularValues.length > 8 ? `  … (${l.singularValues.length})` : ''}`);
  if (a.similarity) {
    lines.push('', `subspace similarity φ(i, j) with ${describe(a.similarity.other)} (1 = the same directions, 0 = orthogonal):`);
    lines.push(table(['layer', 'side', 'φ(1, 1)', 'φ(4, 4)', 'φ(I, J)', 'I × J'], a.similarity.layers.map(phiRow), ['l', 'l']));
  }
  lines.push('', `${a.seconds.toFixed(2)} s${a.layers.some((l) => l.intruders) ? (a.baseSpectrumCached ? ' (W0’s spectrum cached)' : ' (including W0’s spectrum, cached for next time)') : ''}`);
  return lines.join('\n');
}

function phiRow(p: SubspaceSimilarity): (string | number)[] {
  const [I, J] = [p.phi.length, p.phi[0]?.length ?? 0];
  const at = (i: number, j: number) => sig(p.phi[Math.min(i, I) - 1]?.[Math.min(j, J) - 1] ?? 0, 3);
  return [p.layer, p.side, at(1, 1), at(4, 4), at(I, J), `${I} × ${J}`];
}
