/**
 * Data sets through the real CLI (issue 13): a small CSV of 4×4 pixel rows in three
 * named classes is imported, listed and shown with its classes and counts; a base
 * trains on it with --hidden (input and output widths from the data set), a fine-tune
 * picks a class by name and takes its widths from the base; class names head every
 * per-class table and reach every JSON; wrong flags are refused naming the classes;
 * a fine-tune on another data set of the same shape says it is a domain shift; rm is
 * refused while runs use the data set. Last, fashion-mnist is added on first use.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src-main/util/rng.ts';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

const NAMES = ['cat', 'dog', 'bird'];

/** 30 rows per class of 4×4 grey pixels: cats bright on top, dogs on the left, birds on the diagonal. */
function petsCsv(file: string, invert: boolean): void {
  const rng = new Rng(invert ? 2 : 1);
  const lines = [['label', ...Array.from({ length: 16 }, (_, i) => `pixel${i}`)].join(',')];
  for (let i = 0; i < 90; i++) {
    const c = i % 3;
    const px = Array.from({ length: 16 }, (_, p) => {
      const [r, k] = [Math.floor(p / 4), p % 4];
      const on = (c === 0 && r < 2) || (c === 1 && k < 2) || (c === 2 && r === k);
      const v = Math.max(0, Math.min(255, Math.round((on ? 200 : 30) + rng.normal() * 25)));
      return invert ? 255 - v : v;
    });
    lines.push(`${NAMES[c]},${px.join(',')}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json');
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};
const refused = async (args: string[], message: RegExp) => {
  const r = await cli(...args);
  expect(r.code, `${args.join(' ')}: ${r.stdout}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
};

beforeAll(() => {
  petsCsv(join(tmp.dir, 'pets.csv'), false);
  petsCsv(join(tmp.dir, 'night.csv'), true);
});

describe('lora-lab data', { timeout: 400_000 }, () => {
  it('imports a CSV with a progress bar, then prints its shape and counts per class by name', async () => {
    const r = await cli('data', 'import', join(tmp.dir, 'pets.csv'), '--test-fraction', '0.2', '--seed', '3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported data set 2$/m);
    expect(r.stdout).toMatch(/^pets: 4×4 grey, 3 classes, 72 train \/ 18 test$/m);
    expect(r.stdout).toMatch(/^class\s+train\s+test$/m);
    for (const name of NAMES) expect(r.stdout).toMatch(new RegExp(`^${name}\\s+24\\s+6$`, 'm'));
    expect(r.stderr).toMatch(/importing: reading CSV: 100%/);
  });

  it('refuses a name already taken, and the same content under another name', async () => {
    await refused(['data', 'import', join(tmp.dir, 'pets.csv')], /the name "pets" is already taken by data set 2/);
    // The same rows split the same way: the same content.
    await refused(['data', 'import', join(tmp.dir, 'pets.csv'), '--name', 'pets again', '--test-fraction', '0.2', '--seed', '3', '-q'], /already in the lab as data set 2 "pets" \(same content\)/);
    await refused(['data', 'import', join(tmp.dir, 'missing.csv')], /missing\.csv does not exist/);
    await refused(['data', 'import', 'fashion-mnist'], /fashion-mnist is a built-in data set, not a file here: add it with lora-lab data add fashion-mnist/);
  });

  it('list and show carry the classes and counts; built-ins not added yet are listed as such', async () => {
    const list = await json('data', 'list');
    expect(list.datasets.map((d: { id: number; name: string }) => [d.id, d.name])).toEqual([[1, 'mnist'], [2, 'pets']]);
    expect(list.datasets[1]).toMatchObject({ classes: ['bird', 'cat', 'dog'], shape: [4, 4, 1], train: { count: 72, perClass: [24, 24, 24] }, test: { perClass: [6, 6, 6] } });
    expect(list.builtins.find((b: { name: string }) => b.name === 'fashion-mnist')).toMatchObject({ datasetId: null });
    const text = await cli('data', 'list');
    expect(text.stdout).toMatch(/^\s*2\s+pets\s+4×4 grey\s+3: bird, cat, dog\s+72\s+18\s+csv\s+—$/m);
    expect(text.stdout).toMatch(/not added yet[^\n]*\n\s+fashion-mnist /);

    const byName = await json('data', 'show', 'pets');
    expect(await json('data', 'show', '2')).toEqual(byName);
    expect(byName).toMatchObject({ id: 2, classes: ['bird', 'cat', 'dog'], inputSize: 16, origin: { files: ['pets.csv'], testFraction: 0.2, seed: 3 } });
    expect(byName.hash).toMatch(/^[0-9a-f]{64}$/);
    const show = await cli('data', 'show', 'pets');
    expect(show.stdout).toMatch(new RegExp(`^  hash sha-256 ${byName.hash}$`, 'm'));
    expect(show.stdout).toMatch(/^  used by runs: none$/m);
    expect((await cli('data', 'show', 'fashion-mnist')).stdout).toMatch(/^fashion-mnist: a built-in data set, not added yet/);
    await refused(['data', 'show', 'nope'], /no data set "nope" \(data sets: mnist, pets; built-in, added on first use: fashion-mnist\)/);
    await refused(['data', 'show', '9'], /data set 9 does not exist \(1 mnist, 2 pets\)/);
  });

  it('trains with --hidden, fine-tunes a class by name without --sizes, and names the classes in every output', async () => {
    const base = await json('train', '--data', 'pets', '--hidden', '8', '--steps', '5', '--lr', '0.01', '-q');
    expect(base).toMatchObject({ runId: 1, modelId: 1, dataset: { id: 2, name: 'pets' }, classes: ['bird', 'cat', 'dog'], config: { data: 2, sizes: [16, 8, 3], classes: null } });
    expect(base.after.wrongPerClass).toHaveLength(3);

    // The newest model is the pets base: its widths and its data set are the fine-tune's.
    const ft = await json('finetune', '--classes', 'dog', '--steps', '5', '-q');
    expect(ft).toMatchObject({ kind: 'lora', modelId: 1, focusClasses: ['dog'], baseDataset: null, config: { data: 2, sizes: [16, 8, 3], classes: [2], lora: { targets: ['linear1', 'linear2'] } } });

    const run = await json('show', '2');
    expect(run).toMatchObject({ name: 'LoRA r1 α1 on dog seed 0', dataset: { id: 2, name: 'pets', classes: ['bird', 'cat', 'dog'] }, focusClasses: ['dog'] });
    const shown = await cli('show', '2');
    expect(shown.stdout).toMatch(/^  data set pets \(4×4 grey, 3 classes\), focus: dog$/m);
    expect(shown.stdout).toMatch(/^class\s+wrong before\s+wrong after$/m);
    expect(shown.stdout).toMatch(/^dog\s+\d+\s+\d+$/m);
    expect(shown.stdout).not.toMatch(/^digit/m);

    const runs = await json('runs');
    expect(runs.map((r: { name: string; dataset: { classes: string[] } }) => [r.name, r.dataset.classes])).toEqual([
      ['LoRA r1 α1 on dog seed 0', ['bird', 'cat', 'dog']],
      ['base 16→8→3 on pets seed 0', ['bird', 'cat', 'dog']],
    ]);
    expect(await json('runs', '--data', 'mnist')).toEqual([]);
    expect(await json('runs', '--data', 'pets', '--kind', 'lora')).toHaveLength(1);
    expect(await json('evaluate', 'm1')).toMatchObject({ classes: ['bird', 'cat', 'dog'], countPerClass: [6, 6, 6] });
    expect((await cli('evaluate', 'm1')).stdout).toMatch(/^wrong per class\s+model 1\n[─ ]+\nbird\s+\d+\ncat\s+\d+\ndog\s+\d+\naccuracy/m);
    const merge = await json('merge', '--adapter', 'a1', '-q');
    expect(merge.preview.combined.classes).toEqual(['bird', 'cat', 'dog']);
    const compare = await json('compare', '1', '2');
    expect(compare.runs.map((r: { dataset: { name: string } }) => r.dataset.name)).toEqual(['pets', 'pets']);
    expect((await cli('compare', '1', '2')).stdout).toMatch(/wrong per class \(test set\):\nclass\s+run 1\s+run 2\n[─ ]+\nbird\s/);
  });

  it('refuses --digits on it, unknown classes and widths that do not fit, saying what to use', async () => {
    await refused(['finetune', '--data', 'pets', '--digits', '7'], /--digits is for MNIST; pets has classes, not digits: use --classes NAME\[,NAME…\] \(classes of pets: bird, cat, dog\)/);
    await refused(['train', '--data', 'pets', '--classes', 'cat,cow'], /--classes: pets has no class "cow" \(classes: bird, cat, dog; or an index 0–2\)/);
    await refused(['train', '--data', 'pets', '--sizes', '784,8,10'], /sizes: the input width must be 16 \(the values of one sample of pets\), got 784/);
    await refused(['train', '--data', 'pets', '--hidden', '8', '--sizes', '16,8,3'], /give --hidden .* or --sizes .*, not both/);
    await refused(['finetune', '--finetune-from', 'm1', '--data', 'mnist'], /model 1 \(16→8→3, trained on pets\) does not fit mnist/);
    await refused(['finetune', '--hidden', '4'], /--hidden 4 does not match model 1, which has layers 16,8,3/);
    await refused(['train', '--data', 'cats'], /no data set "cats" \(data sets: mnist, pets;/);
    // --digits stays MNIST's --classes.
    await refused(['train', '--digits', '7,12'], /--digits: unknown digit 12 \(MNIST's digits are 0–9\)/);
  });

  it('a fine-tune on another data set of the same shape says it is a domain shift', async () => {
    expect((await cli('data', 'import', join(tmp.dir, 'night.csv'), '--name', 'night', '-q')).code).toBe(0);
    const r = await cli('finetune', '--finetune-from', '1', '--data', 'night', '--classes', 'bird,cat', '--steps', '3', '--json', '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/domain shift: base trained on pets, fine-tuning on night/);
    expect(JSON.parse(r.stdout)).toMatchObject({ dataset: { id: 3, name: 'night' }, baseDataset: { id: 2, name: 'pets' }, focusClasses: ['bird', 'cat'], config: { data: 3, classes: [0, 1] } });
    expect((await cli('show', '3')).stdout).toMatch(/^  domain shift: base trained on pets, fine-tuned on night$/m);
  });

  it('rm is refused while runs use the data set, and deletes it once they are gone', async () => {
    await refused(['data', 'rm', 'pets'], /data set 2 "pets" is used by run 1 .*; delete those first/);
    await refused(['data', 'rm', 'mnist'], /MNIST is built in and cannot be deleted/);
    expect((await cli('rm', '2', '3')).code).toBe(0);
    expect((await cli('rm', '1')).code).toBe(0);
    const r = await cli('data', 'rm', 'pets', 'night');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('deleted data set 2 (pets)\ndeleted data set 3 (night)\n');
    expect((await json('data', 'list')).datasets.map((d: { name: string }) => d.name)).toEqual(['mnist']);
  });

  it('--data fashion-mnist adds the built-in on first use, with a progress bar', async () => {
    const r = await cli('train', '--data', 'fashion-mnist', '--hidden', '8', '--steps', '3', '--train-limit', '200', '--test-limit', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/adding fashion-mnist: converting Fashion-MNIST: 100%/);
    expect(r.stdout).toMatch(/^run \d+ \(base\) on fashion-mnist completed → model \d+$/m);
    expect(r.stdout).toMatch(/^Ankle boot\s/m);
    const again = await cli('data', 'add', 'fashion-mnist');
    expect(again.stdout).toMatch(/^fashion-mnist is in the lab already \(data set \d+\)$/m);
    expect(again.stdout).toMatch(/^fashion-mnist: 28×28 grey, 10 classes, [\d,]+ train \/ 10,000 test$/m);
  });
});
