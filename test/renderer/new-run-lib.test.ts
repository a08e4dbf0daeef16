/**
 * The New run form's pure logic (issue 12, items 4 and 7; issue 13): side-panel figures
 * are null ("—") while a field they are computed from is invalid and follow the data
 * set's counts, the fields needing attention are counted once each, and a clone's
 * default name follows its edited config.
 */
import { describe, expect, it } from 'vitest';
import { cloneName, defaultName } from '../../src-main/lab/run-name.ts';
import { type RunConfig, configIssues, defaultConfig, defaultLora, paramCounts } from '../../src-main/contract/config.ts';
import { trainerMemory } from '../../src-main/contract/memory.ts';
import { type DataCounts, MNIST_COUNTS, fieldProblems, layerAdapterParams, runFigures } from '../../src-renderer/lib/run-figures.ts';
import { INIT_CHOICES, VARIANT_CHOICES, variantBadges, variantLabel, variantTags } from '../../src-renderer/lib/variants.ts';
import { LORA_INITS, LORA_VARIANTS } from '../../src-main/contract/config.ts';

const SIZES = [784, 1000, 2000, 10];
const lora = (r: number, over: Partial<RunConfig> = {}): RunConfig => ({ ...defaultConfig('lora'), sizes: SIZES, lora: { ...defaultLora(SIZES), r, alpha: 1 }, ...over });
const figuresOf = (cfg: RunConfig) => runFigures(cfg, configIssues(cfg));

describe('side-panel figures from invalid input', () => {
  it.each([0, -3, 1001, 2.5])('rank %s: no trainable count, percentage, scaling or memory', (r) => {
    const f = figuresOf(lora(r));
    expect(f).toMatchObject({ counts: null, scaling: null, memory: null });
    // What the panel used to show from the same config: Infinity, −20,382 (−0.726%), 242% of the base.
    if (r === 0) expect(1 / r).toBe(Infinity);
    if (r === -3) expect(paramCounts(lora(r)).trainable).toBe(-20_382);
    if (r === 1001) expect(paramCounts(lora(r)).percent).toBeGreaterThan(100);
    // What does not depend on the rank stays.
    expect(f.examples).toBe(6265); // digit 7, the LoRA default
    expect(f.testImages).toBe(10_000);
  });

  it('a valid rank gives every figure', () => {
    const f = figuresOf(lora(4));
    expect(f.counts?.trainable).toBe(4 * (784 + 1000 + 1000 + 2000 + 2000 + 10));
    expect(f.scaling).toBe(0.25);
    expect(f.memory).toBeGreaterThan(0);
  });

  it('batch, epochs, steps, limits and digits blank only what they feed', () => {
    const base = defaultConfig('base');
    expect(figuresOf({ ...base, batchSize: 0 })).toMatchObject({ steps: null, memory: null, examples: 60_000 });
    expect(figuresOf({ ...base, epochs: -1 })).toMatchObject({ steps: null, examples: 60_000 });
    expect(figuresOf({ ...base, maxSteps: 0 }).steps).toBeNull();
    expect(figuresOf({ ...base, trainLimit: -5 })).toMatchObject({ examples: null, steps: null });
    expect(figuresOf({ ...base, testLimit: 0 }).testImages).toBeNull();
    // More than the test split holds evaluates on all of it (the trainer's min).
    expect(figuresOf({ ...base, testLimit: 20_000 }).testImages).toBe(10_000);
    expect(figuresOf({ ...base, sizes: [784, 0, 10] })).toMatchObject({ counts: null, memory: null, steps: expect.any(Number) });
    expect(figuresOf({ ...base, lr: -1 }).counts).not.toBeNull();
  });

  it('alpha giving an absurd scaling blanks the scaling, not the parameter count', () => {
    const cfg = lora(1, {});
    cfg.lora!.alpha = 1e9;
    const f = figuresOf(cfg);
    expect(f.scaling).toBeNull();
    expect(f.counts).not.toBeNull();
  });

  it('per-layer adapter parameters: "—" where the layer cannot hold rank r', () => {
    expect(layerAdapterParams(SIZES, 11).map((l) => l.params)).toEqual([11 * 1784, 11 * 3000, null]);
    expect(layerAdapterParams(SIZES, -3).map((l) => l.params)).toEqual([null, null, null]);
    expect(layerAdapterParams(SIZES, 0).map((l) => l.params)).toEqual([null, null, null]);
  });
});

describe('LoRA variants on the form', () => {
  it('the trainable count follows DoRA (a magnitude per output) and LoRA-FA (A frozen), per layer and in total', () => {
    const cfg = lora(2);
    const plain = figuresOf(cfg).counts!;
    cfg.lora = { ...cfg.lora!, variant: 'dora' };
    const dora = figuresOf(cfg).counts!;
    expect(dora.trainable - plain.trainable).toBe(1000 + 2000 + 10);
    cfg.lora = { ...cfg.lora, freezeA: true };
    const fa = figuresOf(cfg).counts!;
    expect(fa.trainable).toBe(dora.trainable - 2 * (784 + 1000 + 2000));
    expect(fa.adapter).toBe(dora.adapter); // A is still stored
    const layers = layerAdapterParams(SIZES, 2, { variant: 'dora', freezeA: true });
    expect(layers.map((l) => l.params)).toEqual([2 * 1784 + 1000, 2 * 3000 + 2000, 2 * 2010 + 10]);
    expect(layers.map((l) => l.trainable)).toEqual([2 * 1000 + 1000, 2 * 2000 + 2000, 2 * 10 + 10]);
    expect(layers.reduce((n, l) => n + l.trainable!, 0)).toBe(fa.trainable);
    expect(layerAdapterParams(SIZES, 2).map((l) => l.trainable)).toEqual([2 * 1784, 2 * 3000, 2 * 2010]);
  });

  it('offers every variant and init, each with a one-line hint', () => {
    expect(VARIANT_CHOICES.map((c) => c.value)).toEqual([...LORA_VARIANTS]);
    expect(INIT_CHOICES.map((c) => c.value)).toEqual([...LORA_INITS]);
    for (const c of [...VARIANT_CHOICES, ...INIT_CHOICES]) {
      expect(c.label).not.toBe('');
      expect(c.hint).toMatch(/\S/);
      expect(c.hint).not.toMatch(/\n/);
    }
    expect(INIT_CHOICES.find((c) => c.value === 'pissa')!.hint).toMatch(/SVD/);
    expect(INIT_CHOICES.find((c) => c.value === 'olora')!.hint).toMatch(/QR/);
  });

  it('names a variant compactly: tags for what is not plain LoRA, a label for the whole', () => {
    expect(variantTags({ variant: 'dora', init: 'pissa', freezeA: true })).toEqual(['DoRA', 'PiSSA', 'LoRA-FA']);
    expect(variantTags({ variant: 'lora', init: 'gaussian', freezeA: false })).toEqual([]);
    expect(variantTags({ init: 'olora' })).toEqual(['OLoRA']);
    // A config stored before variants existed: plain LoRA.
    expect(variantTags({ init: 'kaiming' })).toEqual([]);
    expect(variantTags(null)).toEqual([]);
    expect(variantLabel({ r: 1, variant: 'dora', init: 'pissa', freezeA: true })).toBe('DoRA r=1, PiSSA init, LoRA-FA');
    expect(variantLabel({ r: 4, init: 'kaiming' })).toBe('LoRA r=4, Kaiming init');
    expect(variantBadges({ variant: 'dora', freezeA: true }).map((b) => b.title)).toEqual([expect.stringMatching(/^DoRA: /), expect.stringMatching(/^LoRA-FA: .*only B trains/)]);
  });
});

describe('figures follow the data set’s counts', () => {
  // A 13-feature table with 3 classes: 40/50/60 training rows, 30 test rows.
  const wine: DataCounts = { trainPerClass: [40, 50, 60], testCount: 30, bytes: 180 * 13 * 4 + 180 };
  const cfg = (over: Partial<RunConfig> = {}): RunConfig => ({ ...defaultConfig('base'), data: 2, sizes: [13, 16, 3], batchSize: 32, ...over });
  const shape = { name: 'wine', inputSize: 13, classes: ['a', 'b', 'c'] };

  it('training rows, steps and test rows are the data set’s, not MNIST’s', () => {
    const f = runFigures(cfg(), configIssues(cfg(), shape), wine);
    expect(f).toMatchObject({ examples: 150, steps: Math.ceil(150 / 32), testImages: 30 });
    expect(f.memory).toBe(trainerMemory(cfg(), wine.bytes).total);
    expect(runFigures(cfg({ classes: [0, 2] }), [], wine)).toMatchObject({ examples: 100, steps: 4 });
    expect(runFigures(cfg({ testLimit: 1000 }), [], wine).testImages).toBe(30);
  });

  it('MNIST’s own figures when the counts are MNIST’s', () => {
    const mnist = defaultConfig('base');
    expect(runFigures(mnist, [], MNIST_COUNTS)).toMatchObject({ examples: 60_000, steps: 6000, testImages: 10_000, memory: trainerMemory(mnist).total });
  });

  it('no data set known: nothing computed from its counts, the parameter count stays', () => {
    const f = runFigures(cfg(), [], null);
    expect(f).toMatchObject({ examples: null, steps: null, testImages: null, memory: null });
    expect(f.counts?.trainable).toBe(13 * 16 + 16 + 16 * 3 + 3);
  });

  it('widths that do not fit the data set are a sizes problem, and blank what they feed', () => {
    const wrong = cfg({ sizes: [784, 16, 10] });
    const issues = configIssues(wrong, shape);
    expect(issues.map((i) => i.field)).toEqual(['sizes', 'sizes']);
    expect(runFigures(wrong, issues, wine)).toMatchObject({ counts: null, memory: null, examples: 150 });
  });
});

describe('fields that need attention', () => {
  it('a rank too large for three layers is one field, with every reason', () => {
    const issues = configIssues(lora(1001));
    expect(issues.filter((i) => i.field === 'lora.r')).toHaveLength(3); // what the panel used to count
    const problems = fieldProblems(issues);
    expect(problems.map((p) => p.field)).toEqual(['lora.r']);
    expect(problems[0]!.message).toMatch(/linear1.*linear2.*linear3/);
  });

  it('distinct fields are counted once each, in order', () => {
    const cfg = { ...lora(0), batchSize: 0 };
    expect(fieldProblems(configIssues(cfg)).map((p) => p.field)).toEqual(['batchSize', 'lora.r']);
  });
});

describe('a clone’s default name', () => {
  const source = { name: 'LoRA r1 α1 on digit 7 seed 0', config: lora(1, { classes: [7] }) };

  it('is "(copy)" while rank, alpha, digits and seed are the source’s', () => {
    expect(cloneName(source, lora(1, { classes: [7], lr: 0.01 }))).toBe('LoRA r1 α1 on digit 7 seed 0 (copy)');
  });

  it('follows the edited config once the rank changed, as for a new run', () => {
    const edited = lora(8, { classes: [7] });
    expect(cloneName(source, edited)).toBe('LoRA r8 α1 on digit 7 seed 0');
    expect(cloneName(source, edited)).toBe(defaultName(edited));
    expect(cloneName({ name: 'my experiment', config: source.config }, edited)).toBe(defaultName(edited));
  });

  it('never grows past 200 characters', () => {
    const long = { name: 'x'.repeat(200), config: source.config };
    expect(cloneName(long, source.config)).toHaveLength(200);
    expect(cloneName(long, source.config).endsWith(' (copy)')).toBe(true);
  });
});
