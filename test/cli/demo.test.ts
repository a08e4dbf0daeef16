import { describe, expect, it } from 'vitest';
import { lab } from '../helpers/cli.ts';

describe('lora-lab demo', () => {
  it('runs the classic experiment end to end on a slice and prints the promised JSON', async () => {
    const r = await lab(['demo', '--seed', '1', '--base-steps', '150', '--batch-size', '32', '--steps', '40', '--train-limit', '4800', '--test-limit', '2000', '--json', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.base.wrongPerClass).toHaveLength(10);
    expect(out.finetuned.wrongPerClass).toHaveLength(10);
    expect(out.base.accuracy).toBeGreaterThan(0.8);
    expect(out.base.accuracy).toBeLessThanOrEqual(1);
    expect(out.finetuned.wrongPerClass[7]).toBeLessThan(out.base.wrongPerClass[7]);
    expect(out.trainableParams).toBe(6794);
    expect(out.totalParams).toBe(2807010);
    expect(out.backend).toBe('wasm');
    expect(out.wallSeconds).toBeGreaterThan(0);
  });

  it('prints the before/after table with a progress bar on stderr', async () => {
    const r = await lab(['demo', '--base-steps', '20', '--batch-size', '32', '--steps', '5', '--train-limit', '640', '--test-limit', '300']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/digit\s+test images\s+wrong \(base\)\s+wrong \(LoRA\)\s+change/);
    expect(r.stdout).toMatch(/◀ fine-tuned/);
    expect(r.stdout).toMatch(/trainable parameters: 6,794 of 2,807,010 \(0\.242%\)/);
    expect(r.stderr).toMatch(/base training: 100% \(20\/20\)/);
    expect(r.stderr).toMatch(/LoRA fine-tune: 100% \(5\/5\)/);
  });

  const bad: [string[], RegExp][] = [
    [['--rank', '0'], /lora\.r: rank must be a positive integer, got 0/],
    [['--rank', '11'], /rank 11 is larger than layer linear3 allows/],
    [['--lr=-0.01'], /lr: learning rate must be a number in \(0, 10\], got -0.01/],
    [['--digits', '7,12'], /digits: unknown digit 12/],
    [['--batch-size', 'ten'], /--batch-size must be a number, got "ten"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--backend', 'tpu'], /--backend must be one of cuda, tensorflow, webgpu, wasm, cpu/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(' ')} with a clear message and exit code 2`, async () => {
      const r = await lab(['demo', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    });
  }

  it('an unknown command says so', async () => {
    const r = await lab(['trian']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "trian"/);
  });
});
