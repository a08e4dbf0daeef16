import { describe, expect, it } from 'vitest';
import { ConfigError, classicPreset, configIssues, defaultConfig, loraScaling, paramCounts, validateConfig } from '../../src-main/contract/config.ts';
import { formatBytes, memoryProblem, trainerMemory } from '../../src-main/contract/memory.ts';

const lora = () => classicPreset('lora');

const MNIST = { name: 'mnist', inputSize: 784, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };

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
    ['unknown class', (c) => (c.classes = [7, 12]), /classes: unknown class 12 \(classes are 0–9 in mnist\)/],
    ['unknown layer', (c) => (c.lora!.targets = ['linear9']), /unknown layer linear9/],
    ['zero alpha', (c) => (c.lora!.alpha = 0), /lora\.alpha: must be a positive number/],
    ['alpha 1e308 (a scaling that overflows float32)', (c) => (c.lora!.alpha = 1e308), /lora\.alpha: alpha 1e\+308 with rank 1 gives a scaling of 1\.00e\+308, more than 10,000/],
    ['fractional batch', (c) => (c.batchSize = 2.5), /batchSize: must be an integer/],
    ['wrong input width', (c) => ((c.sizes = [100, 10]), (c.lora!.targets = ['linear1'])), /sizes: the input width must be 784 \(the values of one sample of mnist\), got 100/],
    ['wrong output width', (c) => ((c.sizes = [784, 7]), (c.lora!.targets = ['linear1'])), /sizes: the output width must be 10 \(the classes of mnist\), got 7/],
    ['a class twice', (c) => (c.classes = [7, 7]), /classes: lists a class twice \(7 \(7\)\)/],
    ['unknown optimizer', (c) => ((c as { optimizer: string }).optimizer = 'rmsprop'), /optimizer: must be "adam" or "sgd"/],
    ['a layer of 4.3 billion weights', (c) => (c.sizes = [784, 65536, 65536, 10]), /sizes: layer linear2 \(65536→65536\) would hold 4,294,967,296 weights; a layer holds at most 268,435,456/],
    ['a thousand layers', (c) => (c.sizes = [784, ...new Array(1000).fill(16), 10]), /sizes: at most 64 layers, got 1001/],
  ];
  for (const [name, mutate, message] of cases) {
    it(`rejects ${name} with a clear message`, () => {
      const c = lora();
      mutate(c);
      expect(() => validateConfig(c, MNIST)).toThrow(ConfigError);
      expect(() => validateConfig(c, MNIST)).toThrow(message);
    });
  }
});

describe('memory estimate', () => {
  const GB = 2 ** 30;
  it('counts weights, gradients, Adam state, copies, activations, data and runtime', () => {
    const cfg = defaultConfig('base');
    const e = trainerMemory(cfg);
    const params = paramCounts(cfg).base;
    expect(e.parts.weights).toBe(params * 4);
    expect(e.parts.gradients).toBe(params * 4);
    expect(e.parts.optimizer).toBe(params * 8);
    expect(trainerMemory({ ...cfg, optimizer: 'sgd' }).parts.optimizer).toBe(0);
    expect(e.total).toBe(Object.values(e.parts).reduce((a, b) => a + b, 0));
    // The paper's MLP trains in about half a gigabyte: fine on any machine worth the name.
    expect(e.total).toBeLessThan(0.6 * GB);
    expect(memoryProblem(e, 4 * GB)).toBeNull();
  });

  it('a LoRA run keeps only the adapter trainable, but copies of the frozen base', () => {
    const cfg = defaultConfig('lora');
    const e = trainerMemory(cfg);
    expect(e.parts.gradients).toBe(paramCounts(cfg).trainable * 4);
    expect(e.parts.copies).toBeGreaterThan(e.parts.weights);
  });

  it('names the estimate and its largest parts when a run cannot fit', () => {
    const e = trainerMemory({ ...defaultConfig('base'), sizes: [784, 16384, 16384, 16384, 10] });
    const why = memoryProblem(e, 24 * GB);
    expect(why).toMatch(/^this run needs about [\d.]+ GB of memory \(working copies of the weights [\d.]+ GB, Adam state [\d.]+ GB, weights [\d.]+ GB, gradients [\d.]+ GB\) but this machine has 24 GB, of which a run may use 12 GB: /);
    const batch = memoryProblem(trainerMemory({ ...defaultConfig('base'), sizes: [784, 65536, 10], batchSize: 60000 }), 24 * GB);
    expect(batch).toMatch(/needs about [\d.]+ GB of memory \(activations for a batch [\d.]+ GB\)/);
  });

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1.5 * 2 ** 20)).toBe('1.5 MB');
    expect(formatBytes(38 * GB)).toBe('38 GB');
  });
});
