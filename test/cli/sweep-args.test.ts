/**
 * The sweep flags' text → SweepSpec parts (pure): values typed by the starting config,
 * the distributions' syntax, ASHA's, and the one-line messages of each mistake. Plus the
 * group table's cells (mean ± std with units, n, best mark).
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { GROUP_FIGURE_KEYS, type GroupView, type Stat } from '../../src-main/contract/groups.ts';
import { UsageError } from '../../src-main/cli/usage-error.ts';
import { intFlag, parseDistribution, parseGrid, parsePrune, parseRandom, typedValue, valueAt } from '../../src-main/cli/sweep-args.ts';
import { groupJson, groupTable, groupsText, statText } from '../../src-main/cli/sweep-format.ts';

const lora = defaultConfig('lora');
const usage = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
};

describe('--grid PATH=V1,V2', () => {
  it('types the values like the starting config: numbers, text, booleans, null', () => {
    expect(parseGrid('lora.r=1,2,4', lora)).toEqual({ path: 'lora.r', values: [1, 2, 4] });
    expect(parseGrid('lr=1e-3, 0.003 ,0.01', lora)).toEqual({ path: 'lr', values: [0.001, 0.003, 0.01] });
    expect(parseGrid('optimizer=adam,sgd', lora)).toEqual({ path: 'optimizer', values: ['adam', 'sgd'] });
    // A text setting keeps "1" as text (the Lab names it as a value the config refuses).
    expect(parseGrid('lora.init=1', lora).values).toEqual(['1']);
    // maxSteps is a number here; testLimit is null: the text decides, and `null` is null.
    expect(parseGrid('maxSteps=10,null', lora).values).toEqual([10, null]);
    expect(parseGrid('testLimit=300,null', lora).values).toEqual([300, null]);
    // A number setting given a word: left as text for the Lab's type check to name.
    expect(parseGrid('lr=fast', lora).values).toEqual(['fast']);
    // A path the config lacks is the Lab's to refuse (with every other problem): typed from the text.
    expect(parseGrid('lora.nope=1,true,x', lora)).toEqual({ path: 'lora.nope', values: [1, true, 'x'] });
  });

  it('types the LoRA variant axes: the variant and init as text, LoRA-FA as true/false', () => {
    expect(parseGrid('lora.variant=lora,dora', lora)).toEqual({ path: 'lora.variant', values: ['lora', 'dora'] });
    expect(parseGrid('lora.init=kaiming,gaussian,pissa,olora', lora).values).toEqual(['kaiming', 'gaussian', 'pissa', 'olora']);
    expect(parseGrid('lora.freezeA=false,true', lora)).toEqual({ path: 'lora.freezeA', values: [false, true] });
    expect(parseRandom('lora.variant=choice(lora,dora)', lora)).toEqual({ path: 'lora.variant', distribution: { kind: 'choice', values: ['lora', 'dora'] } });
    expect(parseRandom('lora.freezeA=choice(true,false)', lora).distribution).toEqual({ kind: 'choice', values: [true, false] });
    // A config stored before variants existed has no lora.freezeA: the text decides, still a boolean.
    const old = structuredClone(lora);
    delete (old.lora as Partial<NonNullable<typeof old.lora>>).freezeA;
    expect(parseGrid('lora.freezeA=true,false', old).values).toEqual([true, false]);
  });

  it('refuses a malformed axis with one line naming it', () => {
    expect(usage(() => parseGrid('lora.r', lora))).toBe('--grid takes PATH=V1,V2,…, e.g. --grid lora.r=1,2,4, got "lora.r"');
    expect(usage(() => parseGrid('=1,2', lora))).toMatch(/^--grid takes PATH=/);
    expect(usage(() => parseGrid('lora..r=1', lora))).toBe('--grid lora..r=1: "lora..r" is not a config path (dotted names like lora.r or lr)');
    expect(usage(() => parseGrid('lora.r=', lora))).toBe('--grid lora.r= has no values: an axis needs at least one');
    expect(usage(() => parseGrid('lora.r=1,,2', lora))).toBe('--grid lora.r=1,,2: an empty value between commas');
  });
});

describe('--random PATH=DIST', () => {
  it('reads uniform, log-uniform (and loguniform), int and choice', () => {
    expect(parseRandom('lr=log-uniform(1e-4, 1e-2)', lora)).toEqual({ path: 'lr', distribution: { kind: 'log-uniform', min: 1e-4, max: 1e-2 } });
    expect(parseDistribution('loguniform(0.001,0.1)')).toEqual({ kind: 'log-uniform', min: 0.001, max: 0.1 });
    expect(parseDistribution('uniform(-1,1)')).toEqual({ kind: 'uniform', min: -1, max: 1 });
    expect(parseDistribution('int(1,8)')).toEqual({ kind: 'int', min: 1, max: 8 });
    expect(parseRandom('lora.r=choice(1,2,4)', lora)).toEqual({ path: 'lora.r', distribution: { kind: 'choice', values: [1, 2, 4] } });
    expect(parseRandom('optimizer=choice(adam,sgd)', lora).distribution).toEqual({ kind: 'choice', values: ['adam', 'sgd'] });
  });

  it('refuses a bad distribution with one line', () => {
    expect(usage(() => parseRandom('lr=normal(0,1)', lora))).toBe('--random lr: unknown distribution "normal" in normal(0,1): use uniform(a,b), log-uniform(a,b), int(a,b) or choice(v1,v2,…)');
    expect(usage(() => parseRandom('lr=0.01', lora))).toBe('--random lr: "0.01" is not a distribution: use uniform(a,b), log-uniform(a,b), int(a,b) or choice(v1,v2,…)');
    expect(usage(() => parseRandom('lr=uniform(1)', lora))).toBe('--random lr: uniform(1): uniform takes two numbers, its lowest and highest value, e.g. uniform(0,1)');
    expect(usage(() => parseRandom('lr=uniform(a,b)', lora))).toMatch(/uniform takes two numbers/);
    expect(usage(() => parseRandom('lr=uniform(2,1)', lora))).toBe('--random lr: uniform(2,1): the lowest value 2 is above the highest 1');
    expect(usage(() => parseRandom('lr=log-uniform(0,1)', lora))).toBe('--random lr: log-uniform(0,1): log-uniform needs both bounds above 0 (it is uniform in log space)');
    expect(usage(() => parseRandom('lora.r=int(1.5,4)', lora))).toBe('--random lora.r: int(1.5,4): int takes whole-number bounds');
    expect(usage(() => parseRandom('lora.r=choice(1,,2)', lora))).toBe('--random lora.r: choice(1,,2): choice needs values separated by commas, none empty');
    expect(usage(() => parseRandom('log-uniform(1,2)', lora))).toMatch(/^--random takes PATH=DIST/);
  });
});

describe('--prune and whole-number flags', () => {
  it('reads asha:METRIC[:ETA]', () => {
    expect(parsePrune('asha:val/accuracy')).toEqual({ kind: 'asha', metric: 'val/accuracy' });
    expect(parsePrune('asha:train/loss:2')).toEqual({ kind: 'asha', metric: 'train/loss', eta: 2 });
    expect(usage(() => parsePrune('hyperband:val/loss'))).toBe('--prune takes asha:METRIC[:ETA], e.g. --prune asha:val/accuracy or --prune asha:val/loss:2; got "hyperband:val/loss"');
    expect(usage(() => parsePrune('asha'))).toMatch(/^--prune takes asha:METRIC/);
    expect(usage(() => parsePrune('asha:val/loss:1'))).toBe('--prune asha:val/loss:1: the reduction factor η must be a whole number from 2 to 16, got "1"');
  });

  it('checks --seeds, --trials … as whole numbers in range', () => {
    expect(intFlag('seeds', '3', 1, 100)).toBe(3);
    expect(intFlag('seeds', undefined, 1, 100)).toBeUndefined();
    expect(usage(() => intFlag('seeds', '0', 1, 100))).toBe('--seeds must be a whole number from 1 to 100, got "0"');
    expect(usage(() => intFlag('budget', '2.5', 1, 100_000))).toBe('--budget must be a whole number from 1 to 100,000, got "2.5"');
  });

  it('finds values at dotted paths, and none where there is no such path', () => {
    expect(valueAt(lora, 'lora.r')).toBe(1);
    expect(valueAt(lora, 'testLimit')).toBeNull();
    expect(valueAt(lora, 'lora.r.x')).toBeUndefined();
    expect(valueAt(defaultConfig('base'), 'lora.r')).toBeUndefined();
    expect(valueAt(lora, 'constructor')).toBeUndefined();
    expect(typedValue(' true ', false)).toBe(true);
  });
});

describe('the group table', () => {
  const stat = (n: number, mean: number | null, std: number | null): Stat => ({ n, mean, std, min: mean, max: mean, ci95: null });
  const empty = stat(0, null, null);
  const group = (label: string, ids: number[], done: number[], acc: Stat, wrong: Stat): GroupView => ({
    key: JSON.stringify(label),
    label,
    params: { 'lora.r': Number(label.slice(7)) },
    runIds: ids,
    completedIds: done,
    n: done.length,
    figures: { ...(Object.fromEntries(GROUP_FIGURE_KEYS.map((k) => [k, empty])) as GroupView['figures']), accuracy: acc, focusWrong: wrong },
    wrongPerClass: [stat(done.length, 1, 0), wrong],
    dataset: { id: 9, name: 'pets', kind: 'image', shape: [4, 4, 1], classes: ['cat', 'dog'] },
    seeds: done.map((_, i) => i),
  });
  const groups = [group('lora.r=1', [1, 2], [1, 2], stat(2, 0.9123, 0.0041), stat(2, 13.75, 4.9)), group('lora.r=4', [3, 4], [3], stat(1, 0.95, null), stat(1, 4, null))];

  it('shows mean ± std with units, n of all runs, only the figures some group has, and the mark', () => {
    expect(statText(stat(2, 0.9123, 0.0041), 'accuracy')).toBe('91.23 ± 0.41%');
    expect(statText(stat(1, 3.25, null), 'wallSeconds')).toBe('3.3 s');
    expect(statText(empty, 'finalLoss')).toBe('—');
    const text = groupTable(groups, (g) => (g.label === 'lora.r=4' ? '◀ best' : ''));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^group\s+n\s+accuracy\s+focus wrong$/);
    expect(lines[2]).toMatch(/^lora\.r=1\s+2\s+91\.23 ± 0\.41%\s+13\.8 ± 4\.9$/);
    expect(lines[3]).toMatch(/^lora\.r=4\s+1 of 2\s+95\.00%\s+4\.0\s+◀ best$/);
    expect(text).not.toMatch(/final loss/);
  });

  it('lists wrong per class by class name, and --json names each class and unit', () => {
    const text = groupsText(groups);
    expect(text).toMatch(/^class\s+#1\s+#2$/m);
    expect(text).toMatch(/^dog\s+13\.8 ± 4\.9\s+4\.0$/m);
    expect(text).toMatch(/columns: #1 lora\.r=1, #2 lora\.r=4/);
    const json = groupJson(groups[0]!);
    expect(json.wrongPerClass[1]).toEqual({ class: 'dog', n: 2, mean: 13.75, std: 4.9, min: 13.75, max: 13.75, ci95: null });
    expect(json.units).toMatchObject({ accuracy: 'fraction', focusWrong: 'test samples', wallSeconds: 's' });
    expect(groupsText([])).toBe('no groups: none of the runs has completed yet');
  });
});
