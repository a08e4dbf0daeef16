/**
 * The wasm backend's training path is mostly ours (layer multiplies arranged for
 * XNNPACK with hand-written backwards, SIMD optimizer and transpose kernels, shared
 * clones). Here it must give the same 20 losses as TF.js's plain cpu backend, whose
 * kernels and gradients are TF.js's own, in real trainer processes.
 */
import { describe, expect, it } from 'vitest';
import { smallLoraRun, smallRun, trainOn } from '../helpers/trainer-run.ts';

describe('wasm agrees with the cpu backend', () => {
  it('base training: 20 steps to 1e-4, and the final evaluation', async () => {
    const [wasm, cpu] = [await trainOn('wasm', smallRun()), await trainOn('cpu', smallRun())];
    expect(wasm.backend).toBe('wasm');
    expect(wasm.losses).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(Math.abs(wasm.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(wasm.after.loss - cpu.after.loss)).toBeLessThanOrEqual(1e-3);
    expect(wasm.after.correct).toBe(cpu.after.correct);
  });

  it('LoRA fine-tuning: 20 steps to 1e-4, and the final evaluation', async () => {
    const base = await trainOn('cpu', smallRun({ maxSteps: 5 }));
    const cfg = smallLoraRun();
    const [wasm, cpu] = [await trainOn('wasm', cfg, base.weights), await trainOn('cpu', cfg, base.weights)];
    for (let i = 0; i < 20; i++) expect(Math.abs(wasm.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(wasm.after.loss - cpu.after.loss)).toBeLessThanOrEqual(1e-3);
  });
});
