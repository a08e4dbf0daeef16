/**
 * The command line as a new user meets it (issue 12, items 10–14), through the real CLI:
 * help and --version without a database, negative values reaching validation, a
 * fine-tune taking its base model's widths, a merge preview headed truthfully, and
 * messages that say what to do (--force, what a file is) in the units used elsewhere.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

// Each call is a real process (seconds each on a busy 2-core machine): generous timeouts.
const COMMANDS = ['demo', 'train', 'finetune', 'data', 'runs', 'show', 'compare', 'rm', 'tag', 'models', 'merge', 'export', 'import', 'evaluate', 'serve'];

describe('help and version', { timeout: 400_000 }, () => {
  it('every command answers --help / -h with usage, options and an example, never touching the database', async () => {
    // Not a database: a command that opened it would fail (and old code trained, or served).
    const junk = join(tmp.dir, 'junk.db');
    writeFileSync(junk, 'this is not a database\n'.repeat(10));
    for (const [i, cmd] of COMMANDS.entries()) {
      const r = await lab([cmd, i % 2 ? '-h' : '--help', '--db', junk], {}, 30_000);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: lora-lab ${cmd}\\b`));
      expect(r.stdout).toMatch(/\nOptions:\n/);
      expect(r.stdout).toMatch(new RegExp(`\\nExamples?:\\n  lora-lab ${cmd}\\b`));
      expect(r.stderr).toBe('');
    }
    expect(readFileSync(junk, 'utf8')).toBe('this is not a database\n'.repeat(10));
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('junk'))).toEqual(['junk.db']);
    // `lora-lab help COMMAND` is the same text; an unknown one says so.
    const show = await lab(['show', '--help', '--db', junk]);
    expect((await lab(['help', 'show', '--db', junk])).stdout).toBe(show.stdout);
    const bad = await lab(['help', 'shwo']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "shwo"/);
  });

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await lab([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`lora-lab ${version}`);
    }
    expect((await lab(['--help'])).stdout).toMatch(/lora-lab <command> --help/);
  });
});

describe('negative-looking values', { timeout: 400_000 }, () => {
  it('--lr -1 reaches validation instead of "argument is ambiguous"', async () => {
    const r = await lab(['train', '--lr', '-1', '--sizes', '784,16,10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lora-lab: lr: learning rate must be a number in \(0, 10\], got -1$/m);
    expect(r.stderr).not.toMatch(/ambiguous/);
    const seed = await lab(['demo', '--seed', '-3']);
    expect(seed.stderr).toMatch(/--seed must be a non-negative integer, got "-3"/);
    const missing = await lab(['train', '--sizes', '784,16,10', '--lr']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^lora-lab: --lr needs a value$/m);
    const before = await lab(['train', '--lr', '--json']);
    expect(before.stderr).toMatch(/^lora-lab: --lr needs a value$/m);
    const run = await lab(['show', '-1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/"-1" is not a run id/);
  });
});

describe('a first session on a small model (784→16→10)', { timeout: 400_000 }, () => {
  const db = join(tmp.dir, 'lab.db');
  const cli = (...args: string[]) => lab([...args, '--db', db]);
  const small = ['--train-limit', '2000', '--test-limit', '200', '-q'];

  it('train, show, finetune without --sizes, compare, models, merge, export and import', async () => {
    // A base run on digit 7 only: its loss falls to ~1e-5, which 4 decimals print as 0.0000.
    const base = await cli('train', '--sizes', '784,16,10', '--digits', '7', '--lr', '0.005', '--steps', '10', '--eval-every', '10', ...small, '--json');
    expect(base.code, base.stderr).toBe(0);
    const loss = JSON.parse(base.stdout).summary.finalLoss as number;
    expect(loss).toBeGreaterThan(0);
    expect(loss).toBeLessThan(5e-5);
    const show = await cli('show', '1');
    const printed = Number(/final loss (\S+),/.exec(show.stdout)?.[1]);
    expect(Math.abs(printed - loss) / loss).toBeLessThan(1e-3);
    expect(show.stdout).toMatch(/\b10 steps, /);
    expect(show.stdout).toMatch(/test\/accuracy \(1 point\)/);
    expect(show.stdout).not.toMatch(/\b1 points\b/);

    // The fine-tune takes 784,16,10 from model 1; a --sizes that disagrees is refused.
    const wrong = await cli('finetune', '--finetune-from', '1', '--sizes', '784,32,10', '--steps', '3', ...small);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--sizes 784,32,10 does not match model 1, which has layers 784,16,10/);
    const ft = await cli('finetune', '--finetune-from', '1', '--steps', '5', '--eval-every', '5', ...small, '--json');
    expect(ft.code, ft.stderr).toBe(0);
    expect(JSON.parse(ft.stdout)).toMatchObject({ kind: 'lora', modelId: 1, adapterId: 1, config: { sizes: [784, 16, 10], lora: { targets: ['linear1', 'linear2'] } } });
    // A --sizes that agrees is fine (here with the default base, the newest model).
    const agrees = await cli('finetune', '--steps', '3', '--sizes', '784,16,10', '--rank', '2', ...small);
    expect(agrees.code, agrees.stderr).toBe(0);
    expect(agrees.stdout).toMatch(/→ adapter 2 on model 1/);

    // Accuracy in %, as everywhere else.
    const cmp = await cli('compare', '1', '2');
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/^test\/accuracy\s+\d+\.\d\d% \(best \d+\.\d\d%\)\s+\d+\.\d\d% \(best \d+\.\d\d%\)$/m);
    expect(cmp.stdout).not.toMatch(/^test\/accuracy\s+0\.\d{4}/m);

    expect((await cli('models')).stdout).toMatch(/2 runs, 2 adapters/);

    // Each single-adapter column is that adapter alone at full weight: headed so.
    const merge = await cli('merge', '--adapter', 'a1:0.5', '--adapter', 'a2:-0.25', '--test-limit', '100');
    expect(merge.code, merge.stderr).toBe(0);
    expect(merge.stdout.split('\n')[0]).toMatch(/^wrong per digit\s+base\s+a1 alone\s+a2 alone\s+linear merge$/);
    expect(merge.stdout).toMatch(/each adapter at full weight on the base; linear merge: a1×0\.5 \+ a2×-0\.25/);
    // PEFT's methods by name, with density, majority sign and a negative weight (task negation).
    const dt = await cli('merge', '--method', 'dare_ties', '--density', '0.5', '--majority-sign', 'frequency', '--adapter', '1:-1', '--test-limit', '100');
    expect(dt.code, dt.stderr).toBe(0);
    expect(dt.stdout.split('\n')[0]).toMatch(/^wrong per digit\s+base\s+a1 alone\s+dare_ties merge$/);
    expect(dt.stdout).toMatch(/dare_ties merge: a1×-1/);
    // dare_ties mixes A's and B's, so it needs one rank: a1 (r 1) and a2 (r 2) are refused, naming the _svd form.
    const mixed = await cli('merge', '--method', 'dare_ties', '--density', '0.5', '--adapter', '1', '--adapter', '2:-1', '--no-preview', '--save', 'x');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/dare_ties combines the adapters' A's and B's separately \(as PEFT\), which needs one rank, .*has r 1, .*has r 2: use dare_ties_svd/);
    const svdForm = await cli('merge', '--method', 'dare_ties_svd', '--density', '0.5', '--majority-sign', 'frequency', '--adapter', '1', '--adapter', '2:-1', '--test-limit', '100', '--json');
    expect(svdForm.code, svdForm.stderr).toBe(0);
    expect(JSON.parse(svdForm.stdout).preview.request).toMatchObject({ method: 'dare_ties_svd', density: 0.5, majoritySign: 'frequency', adapters: [{ adapterId: 1, weight: 1 }, { adapterId: 2, weight: -1 }] });
    const badSign = await cli('merge', '--method', 'ties', '--density', '0.5', '--majority-sign', 'most', '--adapter', '1');
    expect(badSign.code).toBe(2);
    expect(badSign.stderr).toMatch(/--majority-sign must be total or frequency/);

    // "already exists" names --force.
    const out = join(tmp.dir, 'base.safetensors');
    expect((await cli('export', 'm1', '--format', 'safetensors', '--out', out, '-q')).code).toBe(0);
    const again = await cli('export', 'm1', '--format', 'safetensors', '--out', out, '-q');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/base\.safetensors already exists; add --force to replace it, or choose another --out/);
    expect((await cli('export', 'm1', '--format', 'safetensors', '--out', out, '--force', '-q')).code).toBe(0);

    // One of each: singular.
    expect((await cli('rm', '3')).code).toBe(0);
    expect((await cli('models')).stdout).toMatch(/1 run, 1 adapter\b/);
  });

  it('import says what a file is and which command imports it', async () => {
    const file = (name: string) => join(tmp.dir, name);
    for (const [args] of [
      [['export', '1', '--format', 'json', '--out', file('run.json')]],
      [['export', '1', '2', '--format', 'csv', '--out', file('runs.csv')]],
      [['export', 'm1', '--format', 'tfjs', '--out', file('tfjs')]],
      [['export', 'a1', '--format', 'peft', '--out', file('peft')]],
    ] as const) {
      const r = await cli(...args, '-q');
      expect(r.code, r.stderr).toBe(0);
    }
    writeFileSync(file('package.json'), '{"name": "something", "version": "1.0.0"}');
    const expectations: [string, RegExp][] = [
      [file('run.json'), /run\.json is a LoRA Lab run export \(lora-lab export RUN --format json\): configs, metrics and evaluations, no weights/],
      [file('runs.csv'), /runs\.csv is a CSV file .*no weights/],
      [file('tfjs/model.json'), /model\.json is a TF\.js model \(model\.json\), which LoRA Lab exports but does not import/],
      [file('tfjs'), /tfjs is a TF\.js model folder/],
      [file('package.json'), /package\.json is a JSON file that is neither a PEFT adapter_config\.json nor weights; lora-lab import takes a \.safetensors file/],
      [tmp.dir, /is a folder without an adapter_config\.json/],
      [file('missing.safetensors'), /missing\.safetensors does not exist/],
    ];
    for (const [path, message] of expectations) {
      const r = await cli('import', path);
      expect(r.code, path).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/needs --base/);
    }
    // A real adapter still needs its base, and imports with it (folder or its config file).
    const noBase = await cli('import', file('peft/adapter_config.json'));
    expect(noBase.stderr).toMatch(/importing an adapter needs --base MODEL/);
    const imported = await cli('import', file('peft'), '--base', 'm1', '--json');
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toHaveProperty('adapter');
    const model = await cli('import', file('base.safetensors'), '--json');
    expect(model.code, model.stderr).toBe(0);
    expect(JSON.parse(model.stdout)).toHaveProperty('model');
    expect(existsSync(file('peft/adapter_model.safetensors'))).toBe(true);
    const weightsOnly = await cli('import', file('peft/adapter_model.safetensors'));
    expect(weightsOnly.code).toBe(2);
    expect(weightsOnly.stderr).toMatch(/holds a LoRA adapter's weights \(lora_A\/lora_B tensors\), not a base model/);
  });
});
