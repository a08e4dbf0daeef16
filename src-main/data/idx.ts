/**
 * Reader for the IDX format MNIST ships in (big-endian header, then raw bytes).
 * Every check failure names the file: a bad download must never surface as a shape
 * error deep inside tensor code.
 */
import { readFileSync } from 'node:fs';

export class IdxError extends Error {
  override name = 'IdxError';
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parse an unsigned-byte IDX buffer; `expectDims` is the number of dimensions required. */
export function parseIdx(buf: Uint8Array, expectDims: number, file = '<buffer>'): IdxArray {
  if (buf.byteLength < 4) throw new IdxError(`${file}: too short to be an IDX file (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  const expectedMagic = (UBYTE << 8) | expectDims;
  if (magic !== expectedMagic) {
    throw new IdxError(
      `${file}: bad magic number 0x${magic.toString(16).padStart(8, '0')}, ` +
        `expected 0x${expectedMagic.toString(16).padStart(8, '0')} (unsigned bytes, ${expectDims} dimensions)`,
    );
  }
  const headerBytes = 4 + 4 * expectDims;
  if (buf.byteLength < headerBytes) throw new IdxError(`${file}: truncated header (${buf.byteLength} bytes)`);
  const dims: number[] = [];
  for (let i = 0; i < expectDims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = buf.byteLength - headerBytes;
  if (have !== count) {
    throw new IdxError(
      `${file}: header says ${dims.join('×')} = ${count} bytes of data, file has ${have}` +
        (have < count ? ' (truncated)' : ' (trailing bytes)'),
    );
  }
  return { dims, data: buf.subarray(headerBytes) };
}

export function readIdxFile(file: string, expectDims: number): IdxArray {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new IdxError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseIdx(buf, expectDims, file);
}
