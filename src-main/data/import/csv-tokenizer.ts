/**
 * A streaming RFC 4180 CSV tokenizer over bytes: chunks in, fields and records out, no
 * line or file ever held as a string. Quoted fields may hold commas, doubled quotes and
 * line breaks; \n, \r\n and \r end records; a UTF-8 BOM and blank lines are skipped.
 * A field that is an unquoted run of digits arrives as a number (the pixel fast path);
 * any other field, and every field of a column the sink asks text for, as a string.
 */
import { DataImportError } from './errors.ts';

export interface CsvSink {
  /**
   * Field `col` of the current record: `text` is null when the field was an unquoted
   * run of 1–15 digits and `num` is its value; otherwise `text` is the field's text.
   */
  field(col: number, text: string | null, num: number): void;
  /** The record that began on `line` (1-based) ended after `fields` fields. */
  record(line: number, fields: number): void;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const D0 = 0x30;
const D9 = 0x39;

// Tokenizer states.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

export class CsvTokenizer {
  /** Columns that always come as text; -1 for none. Set by the sink after the header. */
  textCol = -1;
  /** Every field as text (the header). */
  allText = true;

  readonly #sink: CsvSink;
  readonly #label: string;
  readonly #decoder = new TextDecoder('utf-8');
  #state = FIELD_START;
  #buf = new Uint8Array(256);
  #len = 0;
  #digitsOnly = true;
  #num = 0;
  #quoted = false;
  #col = 0;
  #line = 1;
  #recordLine = 1;
  #skipLf = false;
  #first = true;

  constructor(sink: CsvSink, label: string) {
    this.#sink = sink;
    this.#label = label;
  }

  /** The line the current record began on (1-based). */
  get recordLine(): number {
    return this.#recordLine;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    if (this.#first) {
      this.#first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    const n = chunk.length;
    for (; i < n; i++) {
      const c = chunk[i] as number;
      if (this.#skipLf) {
        this.#skipLf = false;
        if (c === LF) continue;
      }
      const state = this.#state;
      if (state === QUOTED) {
        if (c === QUOTE) this.#state = QUOTE_IN_QUOTED;
        else {
          if (c === LF) this.#line++;
          this.#add(c);
        }
      } else if (state === QUOTE_IN_QUOTED) {
        if (c === QUOTE) {
          this.#add(c);
          this.#state = QUOTED;
        } else if (c === COMMA) this.#endField();
        else if (c === LF || c === CR) this.#endLine(c);
        else throw new DataImportError(`${this.#label} line ${this.#line}: a character after a closing quote (write "" for a quote inside a quoted field)`);
      } else if (state === FIELD_START && c === QUOTE) {
        this.#quoted = true;
        this.#digitsOnly = false;
        this.#state = QUOTED;
      } else {
        // FIELD_START (any other byte starts an unquoted field) or UNQUOTED.
        this.#state = UNQUOTED;
        if (c === COMMA) this.#endField();
        else if (c === LF || c === CR) this.#endLine(c);
        else if (c >= D0 && c <= D9 && this.#digitsOnly && this.#len < 15) {
          this.#num = this.#num * 10 + (c - D0);
          this.#add(c);
        } else {
          this.#digitsOnly = false;
          this.#add(c);
        }
      }
    }
  }

  /** The input ended: finish the last record. */
  end(): void {
    if (this.#state === QUOTED) throw new DataImportError(`${this.#label} line ${this.#recordLine}: a quoted field is never closed`);
    if (this.#col > 0 || this.#len > 0 || this.#quoted) {
      this.#endField();
      this.#sink.record(this.#recordLine, this.#col);
    }
  }

  #add(c: number): void {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    this.#buf[this.#len++] = c;
  }

  #endField(): void {
    const col = this.#col;
    if (this.#digitsOnly && this.#len > 0 && !this.allText && col !== this.textCol) this.#sink.field(col, null, this.#num);
    else this.#sink.field(col, this.#decoder.decode(this.#buf.subarray(0, this.#len)), NaN);
    this.#col = col + 1;
    this.#len = 0;
    this.#num = 0;
    this.#digitsOnly = true;
    this.#quoted = false;
    this.#state = FIELD_START;
  }

  #endLine(c: number): void {
    if (c === CR) this.#skipLf = true;
    const blank = this.#col === 0 && this.#len === 0 && !this.#quoted;
    if (!blank) {
      this.#endField();
      this.#sink.record(this.#recordLine, this.#col);
    }
    this.#state = FIELD_START;
    this.#col = 0;
    this.#line++;
    this.#recordLine = this.#line;
  }
}
