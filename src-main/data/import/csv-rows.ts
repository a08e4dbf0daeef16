/**
 * One CSV file into typed arrays: the header decides the label column, the features and
 * whether the rows are pixels (pixel0…pixelN or 1x1…RxC, N a square or R×C) or a table.
 * Rows are written straight into an array sized from a line count made beforehand:
 * unsigned bytes while every pixel is an integer 0–255, float32 from the first value that
 * is not (the bytes so far are widened once). Labels become ids in a LabelTable shared by
 * the files of one data set; the caller maps them to classes.
 */
import { createReadStream } from 'node:fs';
import { DataImportError, checkAborted } from './errors.ts';
import { CsvTokenizer, type CsvSink } from './csv-tokenizer.ts';
import { MAX_CLASSES, checkXBytes } from './limits.ts';

/** Label texts seen so far, in first-seen order, with where each was first seen. */
export interface LabelTable {
  ids: Map<string, number>;
  names: string[];
  firstSeen: { file: string; line: number }[];
}

export const newLabelTable = (): LabelTable => ({ ids: new Map(), names: [], firstSeen: [] });

export interface CsvHeader {
  names: string[];
  labelCol: number;
}

export interface ParsedCsv {
  header: CsvHeader;
  /** [height, width] when the rows are pixels, else null. */
  pixels: [number, number] | null;
  /** Why a pixel header was read as a table (a value that is not an integer 0–255). */
  notPixels: string | null;
  /** [count, features]: uint8 for pixels, float32 for a table. */
  x: Uint8Array | Float32Array;
  /** [count] ids into the LabelTable. */
  labels: Uint8Array;
  count: number;
}

const LABEL_NAMES = ['label', 'labels', 'class', 'class_name', 'category', 'target', 'y', 'species', 'outcome', 'digit'];
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(nan|inf|infinity)$/i;
const FLOAT32_MAX = 3.4028234663852886e38;

/** [height, width] when feature names are pixel names, else null. */
export function pixelShape(names: readonly string[]): [number, number] | null {
  if (names.length >= 4 && names.every((n) => /^(pixel|px|p)?_?\d+$/i.test(n))) {
    const s = Math.round(Math.sqrt(names.length));
    return s * s === names.length ? [s, s] : null;
  }
  if (names.length >= 4 && names.every((n) => /^\d+x\d+$/i.test(n))) {
    let h = 0;
    let w = 0;
    for (const n of names) {
      const [r, c] = n.toLowerCase().split('x').map(Number) as [number, number];
      h = Math.max(h, r);
      w = Math.max(w, c);
    }
    return h * w === names.length ? [h, w] : null;
  }
  return null;
}

function labelColumn(names: readonly string[], wanted: string | undefined, file: string): number {
  if (wanted !== undefined) {
    let i = names.indexOf(wanted);
    if (i < 0) i = names.findIndex((n) => n.toLowerCase() === wanted.toLowerCase());
    if (i < 0) throw new DataImportError(`${file}: no column "${wanted}" in the header (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`);
    return i;
  }
  const i = names.findIndex((n) => LABEL_NAMES.includes(n.toLowerCase()));
  return i < 0 ? 0 : i;
}

/** Upper bound on the records of a file: its line breaks, plus one. */
async function countLines(path: string, file: string, signal: AbortSignal | undefined): Promise<number> {
  let lf = 0;
  let cr = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      checkAborted(signal);
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lf++;
      for (let i = chunk.indexOf(0x0d); i >= 0; i = chunk.indexOf(0x0d, i + 1)) cr++;
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new DataImportError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return Math.max(lf, cr) + 1;
}

export interface ParseOptions {
  labelColumn?: string | undefined;
  /** A second file of the set must have this header. */
  expect?: CsvHeader | undefined;
  signal?: AbortSignal | undefined;
  onBytes?: ((bytes: number) => void) | undefined;
}

export async function parseCsvFile(path: string, file: string, table: LabelTable, opts: ParseOptions): Promise<ParsedCsv> {
  const capacity = (await countLines(path, file, opts.signal)) - 1; // data rows, at most
  const sink = new Rows(file, table, capacity, opts);
  const tok = new CsvTokenizer(sink, file);
  sink.tokenizer = tok;
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      checkAborted(opts.signal);
      tok.push(chunk);
      bytes += chunk.length;
      opts.onBytes?.(bytes);
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (err instanceof DataImportError) throw err;
    throw new DataImportError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  tok.end();
  return sink.result();
}

class Rows implements CsvSink {
  tokenizer: CsvTokenizer | null = null;
  readonly #file: string;
  readonly #table: LabelTable;
  readonly #capacity: number;
  readonly #opts: ParseOptions;
  #headerFields: string[] = [];
  #header: CsvHeader | null = null;
  #colToFeature = new Int32Array(0);
  #features = 0;
  #pixels: [number, number] | null = null;
  #notPixels: string | null = null;
  #u8: Uint8Array | null = null;
  #f32: Float32Array | null = null;
  #labels: Uint8Array = new Uint8Array(0);
  #labelText = '';
  #count = 0;
  #base = 0;

  constructor(file: string, table: LabelTable, capacity: number, opts: ParseOptions) {
    this.#file = file;
    this.#table = table;
    this.#capacity = capacity;
    this.#opts = opts;
  }

  field(col: number, text: string | null, num: number): void {
    if (!this.#header) {
      this.#headerFields.push((text ?? String(num)).trim());
      return;
    }
    if (col === this.#header.labelCol) {
      this.#labelText = text ?? String(num);
      return;
    }
    const f = this.#colToFeature[col];
    if (f === undefined) return; // a field past the header's: record() refuses the row
    const v = text === null ? num : this.#number(text, col);
    const at = this.#base + f;
    const u8 = this.#u8;
    if (u8) {
      if (v >= 0 && v <= 255 && Number.isInteger(v)) {
        u8[at] = v;
        return;
      }
      this.#widen(col, text ?? String(v));
    }
    if (Math.abs(v) > FLOAT32_MAX) throw new DataImportError(`${this.#where(col)}: ${text} is beyond float32's range`);
    (this.#f32 as Float32Array)[at] = v;
  }

  record(line: number, fields: number): void {
    if (!this.#header) {
      this.#readHeader();
      return;
    }
    const want = this.#header.names.length;
    if (fields !== want) throw new DataImportError(`${this.#file} line ${line} has ${fields} value${fields === 1 ? '' : 's'}, the header has ${want}`);
    if (this.#count >= this.#capacity) throw new DataImportError(`${this.#file}: more rows than lines (did the file change while being read?)`);
    const label = this.#labelText.trim();
    if (label === '') throw new DataImportError(`${this.#file} line ${line}, column ${this.#header.names[this.#header.labelCol]}: the label is empty`);
    let id = this.#table.ids.get(label);
    if (id === undefined) {
      id = this.#table.names.length;
      if (id >= MAX_CLASSES) {
        throw new DataImportError(
          `${this.#file} line ${line}: label "${label}" is the ${MAX_CLASSES + 1}th distinct value of column ${this.#header.names[this.#header.labelCol]}; at most ${MAX_CLASSES} classes (is that the label column?)`,
        );
      }
      this.#table.ids.set(label, id);
      this.#table.names.push(label);
      this.#table.firstSeen.push({ file: this.#file, line });
    }
    this.#labels[this.#count] = id;
    this.#count++;
    this.#base += this.#features;
  }

  result(): ParsedCsv {
    if (!this.#header) throw new DataImportError(`${this.#file}: the file is empty (a header row and data rows are needed)`);
    if (this.#count === 0) throw new DataImportError(`${this.#file}: only a header, no data rows`);
    const n = this.#count;
    const x = (this.#u8 ?? this.#f32) as Uint8Array | Float32Array;
    // Blank lines and quoted line breaks leave the array a little longer than the rows: trim (by view when it is little).
    const waste = this.#capacity - n;
    const trim = <T extends Uint8Array | Float32Array>(a: T, len: number): T => (waste > this.#capacity / 100 ? (a.slice(0, len) as T) : (a.subarray(0, len) as T));
    return {
      header: this.#header,
      pixels: this.#u8 ? this.#pixels : null,
      notPixels: this.#notPixels,
      x: trim(x, n * this.#features),
      labels: trim(this.#labels, n),
      count: n,
    };
  }

  #where(col: number): string {
    return `${this.#file} line ${this.tokenizer?.recordLine ?? '?'}, column ${this.#header?.names[col] ?? col + 1}`;
  }

  #number(text: string, col: number): number {
    const t = text.trim();
    if (t === '') throw new DataImportError(`${this.#where(col)}: empty value`);
    if (!NUMBER.test(t)) {
      if (NOT_FINITE.test(t)) throw new DataImportError(`${this.#where(col)}: "${t}" is not a finite number`);
      // Text in a feature column of the first row: most likely the label column, not found by its name.
      const hint = this.tokenizer?.recordLine === 2 ? ` (if "${this.#header?.names[col] ?? col + 1}" holds the class names, name it as the label column: --label-column)` : '';
      throw new DataImportError(`${this.#where(col)}: "${t.length > 40 ? `${t.slice(0, 40)}…` : t}" is not a number${hint}`);
    }
    const v = Number(t);
    if (!Number.isFinite(v)) throw new DataImportError(`${this.#where(col)}: "${t}" is not a finite number`);
    return v;
  }

  /** A pixel header, but a value that is not a byte: read the file as a table from here on. */
  #widen(col: number, value: string): void {
    const u8 = this.#u8 as Uint8Array;
    checkXBytes(this.#capacity * this.#features * 4, `${this.#file} (as float32)`);
    const f32 = new Float32Array(this.#capacity * this.#features);
    f32.set(u8.subarray(0, this.#base + this.#features));
    this.#f32 = f32;
    this.#u8 = null;
    this.#notPixels = `${this.#where(col)}: ${value} is not an integer 0–255, so the file is read as a table`;
  }

  #readHeader(): void {
    const names = this.#headerFields;
    const file = this.#file;
    if (names.length < 2) throw new DataImportError(`${file} line 1: the header has ${names.length} column; a label column and feature columns are needed`);
    if (names.every((n) => n !== '' && Number.isFinite(Number(n)))) {
      throw new DataImportError(`${file} line 1 holds numbers, not column names: a header row (e.g. label,pixel0,pixel1,…) is required`);
    }
    const expect = this.#opts.expect;
    const labelCol = expect ? expect.labelCol : labelColumn(names, this.#opts.labelColumn, file);
    if (expect) {
      const differ = names.length !== expect.names.length ? -1 : names.findIndex((n, i) => n !== expect.names[i]);
      if (names.length !== expect.names.length) {
        const hint = names.length === expect.names.length - 1 ? ' (a test file without labels cannot be used: import the train file alone)' : '';
        throw new DataImportError(`${file}: the header has ${names.length} columns, the first file's has ${expect.names.length}${hint}`);
      }
      if (differ >= 0) throw new DataImportError(`${file}: column ${differ + 1} is "${names[differ]}", the first file's is "${expect.names[differ]}"`);
    }
    this.#header = { names, labelCol };
    this.#features = names.length - 1;
    this.#colToFeature = Int32Array.from(names, (_, i) => (i < labelCol ? i : i - 1));
    this.#colToFeature[labelCol] = -1;
    this.#pixels = pixelShape(names.filter((_, i) => i !== labelCol));
    const capacity = Math.max(this.#capacity, 0);
    const values = capacity * this.#features;
    checkXBytes(values * (this.#pixels ? 1 : 4), `${file} (up to ${capacity} rows × ${this.#features} values${this.#pixels ? '' : ' as float32'})`);
    if (this.#pixels) this.#u8 = new Uint8Array(values);
    else this.#f32 = new Float32Array(values);
    this.#labels = new Uint8Array(capacity);
    const tok = this.tokenizer as CsvTokenizer;
    tok.allText = false;
    tok.textCol = labelCol;
  }
}
