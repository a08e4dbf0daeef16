/**
 * The few matrix operations the adapter math needs, as an interface, so that the
 * formulas in delta.ts are written once and run on either side: the trainer's TF.js
 * tensors (trainer/tf-ops.ts, which stores every matrix transposed) and the host's
 * float64 matrices used to merge, export and check (hostOps below).
 *
 * Matrices are in PyTorch orientation: a weight is [out, in], a "row" is one output.
 * Vectors ([out]) are matrices too, with one column: `V` is the implementation's type.
 */
import { type Matrix, matmul, matrix } from '../weights/linalg.ts';

export interface MatOps<M> {
  /** a [m, k] · b [k, n] → [m, n]. */
  matMul(a: M, b: M): M;
  add(a: M, b: M): M;
  scale(a: M, s: number): M;
  /** ‖a_o‖₂ for each row o of a [m, n] → [m]. */
  rowNorms(a: M): M;
  /** Row o of a [m, n] times v_o, v [m]. */
  scaleRows(a: M, v: M): M;
  /** Row o of a [m, n] divided by v_o, v [m]. */
  divRows(a: M, v: M): M;
  /** Element by element (vectors of one length). */
  div(a: M, b: M): M;
}

function same(a: Matrix, b: Matrix, op: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new RangeError(`cannot ${op} [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}]`);
}

/** Row o of a combined with v_o, element by element. */
function eachRow(a: Matrix, v: Matrix, op: string, f: (x: number, vo: number) => number): Matrix {
  if (v.data.length !== a.rows) throw new RangeError(`cannot ${op} ${a.rows} rows by ${v.data.length} values`);
  const out = matrix(a.rows, a.cols);
  for (let o = 0; o < a.rows; o++) {
    const vo = v.data[o] as number;
    for (let i = o * a.cols; i < (o + 1) * a.cols; i++) out.data[i] = f(a.data[i] as number, vo);
  }
  return out;
}

/** Float64, row-major (weights/linalg.ts's Matrix). */
export const hostOps: MatOps<Matrix> = {
  matMul: matmul,
  add(a, b) {
    same(a, b, 'add');
    const out = matrix(a.rows, a.cols);
    for (let i = 0; i < out.data.length; i++) out.data[i] = (a.data[i] as number) + (b.data[i] as number);
    return out;
  },
  scale(a, s) {
    const out = matrix(a.rows, a.cols);
    for (let i = 0; i < out.data.length; i++) out.data[i] = (a.data[i] as number) * s;
    return out;
  },
  rowNorms(a) {
    const out = matrix(a.rows, 1);
    for (let o = 0; o < a.rows; o++) {
      let sum = 0;
      for (let i = o * a.cols; i < (o + 1) * a.cols; i++) sum += (a.data[i] as number) ** 2;
      out.data[o] = Math.sqrt(sum);
    }
    return out;
  },
  scaleRows: (a, v) => eachRow(a, v, 'scale', (x, f) => x * f),
  divRows: (a, v) => eachRow(a, v, 'divide', (x, f) => x / f),
  div(a, b) {
    same(a, b, 'divide');
    const out = matrix(a.rows, a.cols);
    for (let i = 0; i < out.data.length; i++) out.data[i] = (a.data[i] as number) / (b.data[i] as number);
    return out;
  },
};
