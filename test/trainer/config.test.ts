import { describe, expect, it } from 'vitest';
import { ConfigError, classicPreset, configIssues, defaultConfig, loraScaling, paramCounts, validateConfig } from '../../src-main/trainer/config.ts';

const lora = () => classicPreset('lora');

describe('run config', () => {
  it('defaults are valid for both kinds', () => {
    expect(configIssues(defaultConfig('base'))).toEqual([]);
    expect(configIssues(defaultConfig('lora'))).toEqual([]);
  });

  it('counts parameters as the paper does: rank 1 on all layers = 6,794 of 2,807,010 (0.242%)', () => {
    const c = paramCounts(lora());
    expect(c.base).toBe(2_807_010);
    expect(c.trainable).toBe(6_794);
    expect(c.total).toBe(2_807_010);
    expect(c.percent.toFixed(3)).toBe('0.242');
    expect(paramCounts(defaultConfig('base')).trainable).toBe(2_807_010);
    const r4 = lora();
    r4.lora!.r = 4;
    r4.lora!.targets = ['linear2'];
    expect(paramCounts(r4).trainable).toBe(4 * (1000 + 2000));
  });

  it('scales by alpha/r, or alpha/√r with rsLoRA', () => {
    expect(loraScaling({ r: 4, alpha: 8, scaling: 'standard' })).toBe(2);
    expect(loraScaling({ r: 4, alpha: 8, scaling: 'rslora' })).toBe(4);
  });

  const cases: [string, (c: ReturnType<typeof lora>) => void, RegExp][] = [
    ['rank 0', (c) => (c.lora!.r = 0), /lora\.r: rank must be a positive integer, got 0/],
    ['rank larger than a layer', (c) => (c.lora!.r = 11), /rank 11 is larger than layer linear3 allows \(min\(in, out\) = 10\)/],
    ['negative learning rate', (c) => (c.lr = -0.1), /lr: learning rate must be a number in \(0, 10\], got -0.1/],
    ['unknown digit', (c) => (c.digits = [7, 12]), /digits: unknown digit 12/],
    ['unknown layer', (c) => (c.lora!.targets = ['linear9']), /unknown layer linear9/],
    ['zero alpha', (c) => (c.lora!.alpha = 0), /lora\.alpha: must be a positive number/],
    ['fractional batch', (c) => (c.batchSize = 2.5), /batchSize: must be an integer/],
    ['wrong input width', (c) => (c.sizes = [100, 10]), /input width must be 784/],
    ['unknown optimizer', (c) => ((c as { optimizer: string }).optimizer = 'rmsprop'), /optimizer: must be "adam" or "sgd"/],
  ];
  for (const [name, mutate, message] of cases) {
    it(`rejects ${name} with a clear message`, () => {
      const c = lora();
      mutate(c);
      expect(() => validateConfig(c)).toThrow(ConfigError);
      expect(() => validateConfig(c)).toThrow(message);
    });
  }
});
