import { describe, expect, it } from 'vitest';
import { PeftError, parsePeft, peftFiles } from '../../src-main/weights/peft.ts';
import { readSafetensors, writeSafetensors } from '../../src-main/weights/safetensors.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { randomAdapter } from './helpers.ts';

const sizes = [784, 32, 16, 10];

describe('PEFT export', () => {
  it('writes PEFT LoraConfig fields and base_model.model.<layer>.lora_A/B.weight keys', () => {
    const { info, tensors } = randomAdapter(sizes, { r: 4, alpha: 8, targets: ['linear1', 'linear3'] }, 1);
    const files = peftFiles(tensors, info, 'lora-lab/model-7');
    expect(files.config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      target_modules: ['linear1', 'linear3'],
      use_rslora: false,
      bias: 'none',
      init_lora_weights: true,
      base_model_name_or_path: 'lora-lab/model-7',
      inference_mode: true,
      task_type: null,
      fan_in_fan_out: false,
      lora_dropout: 0,
      modules_to_save: null,
      use_dora: false,
    });
    const file = readSafetensors(files.safetensors);
    // PEFT's own metadata, and LoRA Lab's provenance beside it (PEFT ignores unknown keys).
    expect(file.metadata).toEqual({ format: 'pt', lora_lab_init: 'kaiming', lora_lab_freeze_a: 'false' });
    expect(Object.keys(file.tensors).sort()).toEqual([
      'base_model.model.linear1.lora_A.weight',
      'base_model.model.linear1.lora_B.weight',
      'base_model.model.linear3.lora_A.weight',
      'base_model.model.linear3.lora_B.weight',
    ]);
    expect(file.tensors['base_model.model.linear1.lora_A.weight']?.shape).toEqual([4, 784]);
    expect(file.tensors['base_model.model.linear3.lora_B.weight']?.shape).toEqual([10, 4]);
    // JSON-serialisable as is, r and lora_alpha always present.
    const json = JSON.parse(JSON.stringify(files.config));
    expect(json.r).toBe(4);
    expect(json.lora_alpha).toBe(8);
  });

  it('maps rsLoRA and Gaussian init to use_rslora and init_lora_weights "gaussian"', () => {
    const { info, tensors } = randomAdapter(sizes, { r: 4, alpha: 8, rule: 'rslora' }, 2);
    const files = peftFiles(tensors, { ...info, init: 'gaussian' }, 'b');
    expect(files.config.use_rslora).toBe(true);
    expect(files.config.init_lora_weights).toBe('gaussian');
  });

  it('DoRA, PiSSA and LoRA-FA adapters: use_dora, lora_magnitude_vector [out], provenance; the round trip is bit-identical', () => {
    const { info, tensors } = randomAdapter(sizes, { r: 2, alpha: 4, targets: ['linear1', 'linear2'] }, 4);
    const rng = new Rng(5);
    const withM: NamedTensors = { ...tensors };
    for (const [l, out] of [['linear1', 32], ['linear2', 16]] as const) withM[`${l}.lora_magnitude_vector`] = { shape: [out], data: Float32Array.from({ length: out }, () => 1 + rng.next()) };
    const dora = { ...info, variant: 'dora' as const, init: 'pissa' as const, freezeA: true };
    const files = peftFiles(withM, dora, 'base');
    expect(files.config.use_dora).toBe(true);
    expect(files.config.init_lora_weights).toBe(true); // converted to the original base, as PEFT marks it
    const file = readSafetensors(files.safetensors);
    expect(file.tensors['base_model.model.linear2.lora_magnitude_vector']?.shape).toEqual([16]);
    const back = parsePeft(JSON.parse(JSON.stringify(files.config)), files.safetensors);
    expect(back.info).toEqual(dora);
    for (const k of Object.keys(withM)) expect(Buffer.from(back.tensors[k]!.data.buffer).equals(Buffer.from(withM[k]!.data.buffer)), k).toBe(true);
    expect(() => peftFiles(tensors, dora, 'base')).toThrow(/DoRA target linear1 lacks its lora_magnitude_vector/);
    expect(() => peftFiles(withM, info, 'base')).toThrow(/has a lora_magnitude_vector but the adapter is not DoRA/);
  });

  it('round trip export → parse is bit-identical', () => {
    for (const rule of ['standard', 'rslora'] as const) {
      const { info, tensors } = randomAdapter(sizes, { r: 3, alpha: 5, rule, targets: ['linear2', 'linear1'] }, 3);
      const files = peftFiles(tensors, info, 'base');
      const back = parsePeft(JSON.parse(JSON.stringify(files.config)), files.safetensors);
      expect(back.info).toEqual({ ...info, targets: ['linear1', 'linear2'] });
      expect(back.baseModel).toBe('base');
      expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
      for (const [k, t] of Object.entries(tensors)) {
        expect(back.tensors[k]?.shape).toEqual(t.shape);
        expect(Buffer.from(back.tensors[k]!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
      }
    }
  });

  it('refuses an adapter whose scaling does not follow from alpha and r, or with missing tensors', () => {
    const { info, tensors } = randomAdapter(sizes, { r: 2 }, 4);
    expect(() => peftFiles(tensors, { ...info, scaling: 1.5 }, 'b')).toThrow(/does not follow from alpha/);
    const missing = { ...tensors };
    delete missing['linear2.lora_B'];
    expect(() => peftFiles(missing, info, 'b')).toThrow(/linear2 lacks lora_B/);
    expect(() => peftFiles(tensors, { ...info, r: 3, alpha: 6 }, 'b')).toThrow(/rank mismatch/);
    expect(() => peftFiles(tensors, { ...info, targets: ['fc1'] }, 'b')).toThrow(/not a linearN layer/);
  });
});

describe('PEFT import validation', () => {
  const { info, tensors } = randomAdapter(sizes, { r: 2, alpha: 4, targets: ['linear1', 'linear2'] }, 5);
  const files = peftFiles(tensors, info, 'b');
  const cfg = (over: Record<string, unknown>) => ({ ...files.config, ...over });
  const peftKeys = readSafetensors(files.safetensors).tensors;
  const withTensors = (edit: (t: NamedTensors) => void) => {
    const t = { ...peftKeys };
    edit(t);
    return writeSafetensors(t, { format: 'pt' });
  };

  const cases: [string, () => unknown, RegExp][] = [
    ['non-object config', () => parsePeft([1], files.safetensors), /must be a JSON object/],
    ['config text that is not JSON', () => parsePeft('{', files.safetensors), /not valid JSON/],
    // By position: Node's own message would quote the text.
    ['config text quoting a secret', () => parsePeft('{"r": root:x:0:0:root}', files.safetensors), /^adapter_config\.json is not valid JSON \(at byte 6\)$/],
    ['lora_alpha 1e308 (finite, absurd)', () => parsePeft(cfg({ lora_alpha: 1e308 }), files.safetensors), /lora_alpha 1e\+308 with r 2 gives a scaling of 5\.00e\+307, more than 10,000/],
    ['a long value, quoted short', () => parsePeft(cfg({ peft_type: 'X'.repeat(100_000) }), files.safetensors), /^peft_type "X{40}…" is not supported/],
    ['unknown peft_type', () => parsePeft(cfg({ peft_type: 'IA3' }), files.safetensors), /peft_type "IA3" is not supported/],
    ['r missing', () => parsePeft(cfg({ r: undefined }), files.safetensors), /r must be a positive integer/],
    ['alpha ≤ 0', () => parsePeft(cfg({ lora_alpha: 0 }), files.safetensors), /lora_alpha must be a positive number, got 0/],
    ['alpha not a number', () => parsePeft(cfg({ lora_alpha: '8' }), files.safetensors), /lora_alpha must be a positive number/],
    ['rank mismatch', () => parsePeft(cfg({ r: 4 }), files.safetensors), /rank mismatch: r is 4 but linear1.lora_A has shape \[2,784\]/],
    ['target not linearN', () => parsePeft(cfg({ target_modules: ['q_proj'] }), files.safetensors), /"q_proj" is not a linearN layer/],
    ['target regex', () => parsePeft(cfg({ target_modules: '.*linear.*' }), files.safetensors), /regular expressions are not supported/],
    ['target listed twice', () => parsePeft(cfg({ target_modules: ['linear1', 'linear1', 'linear2'] }), files.safetensors), /twice/],
    ['missing lora_B', () => parsePeft(files.config, withTensors((t) => delete t['base_model.model.linear2.lora_B.weight'])), /linear2 lacks lora_B/],
    ['weights for an unlisted layer', () => parsePeft(cfg({ target_modules: ['linear1'] }), files.safetensors), /holds weights for linear2/],
    ['non-2D A', () => parsePeft(files.config, withTensors((t) => (t['base_model.model.linear1.lora_A.weight'] = { shape: [2, 784, 1], data: new Float32Array(1568) }))), /must be 2-D/],
    ['unexpected key', () => parsePeft(files.config, withTensors((t) => (t['base_model.model.linear1.weight'] = { shape: [1], data: new Float32Array(1) }))), /unexpected tensor/],
    ['DoRA without magnitudes', () => parsePeft(cfg({ use_dora: true }), files.safetensors), /use_dora is true but adapter_model.safetensors has no lora_magnitude_vector for linear1/],
    ['magnitudes without use_dora', () => parsePeft(files.config, withTensors((t) => (t['base_model.model.linear1.lora_magnitude_vector'] = { shape: [32], data: new Float32Array(32).fill(1) }))), /holds DoRA magnitudes .* but use_dora is not true/],
    ['use_dora not a boolean', () => parsePeft(cfg({ use_dora: 'yes' }), files.safetensors), /use_dora must be true or false/],
    ['OLoRA init (unconverted)', () => parsePeft(cfg({ init_lora_weights: 'olora' }), files.safetensors), /rewritten base \(the residual of QR\).*path_initial_model_for_weight_conversion/],
    ['bias all', () => parsePeft(cfg({ bias: 'all' }), files.safetensors), /only bias "none"/],
    ['rank_pattern', () => parsePeft(cfg({ rank_pattern: { linear1: 4 } }), files.safetensors), /rank_pattern is set/],
    ['modules_to_save', () => parsePeft(cfg({ modules_to_save: ['linear3'] }), files.safetensors), /modules_to_save is set/],
    ['PiSSA init', () => parsePeft(cfg({ init_lora_weights: 'pissa' }), files.safetensors), /init_lora_weights "pissa"/],
    ['bad safetensors', () => parsePeft(files.config, files.safetensors.subarray(0, 20)), /adapter_model.safetensors: /],
  ];
  for (const [what, run, message] of cases) {
    it(`refuses: ${what}`, () => {
      expect(run).toThrow(PeftError);
      expect(run).toThrow(message);
    });
  }

  it('refuses NaN and infinite weights, naming the tensor and the count', () => {
    const bad = withTensors((t) => {
      const b = t['base_model.model.linear2.lora_B.weight']!;
      t['base_model.model.linear2.lora_B.weight'] = { shape: b.shape, data: b.data.slice().fill(Infinity, 0, 7) };
    });
    expect(() => parsePeft(files.config, bad)).toThrow(/^adapter_model\.safetensors: tensor base_model\.model\.linear2\.lora_B\.weight holds 7 NaN or infinite values$/);
  });

  it('accepts PEFT defaults: missing use_rslora/bias/init, "all-linear", a single target name, false init', () => {
    const minimal = { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: 'all-linear' };
    expect(parsePeft(minimal, files.safetensors).info).toEqual({ ...info, init: 'kaiming' });
    const one = parsePeft({ ...minimal, target_modules: 'linear1', init_lora_weights: false }, withTensors((t) => {
      delete t['base_model.model.linear2.lora_A.weight'];
      delete t['base_model.model.linear2.lora_B.weight'];
    }));
    expect(one.info.targets).toEqual(['linear1']);
    expect(one.baseModel).toBeNull();
  });

  it('1,000 seeded mutations of config and weights: each parses or throws PeftError', () => {
    const rng = new Rng(99);
    const weird = [null, true, false, 0, -1, 2, 2.5, 1e300, '', 'LORA', 'linear1', 'all-linear', 'gaussian', 'none', [], ['linear1'], ['linear9'], [1], {}, { a: 1 }];
    const fields = [...Object.keys(files.config), 'extra'];
    let parsed = 0;
    for (let c = 0; c < 1000; c++) {
      const config: Record<string, unknown> = { ...files.config };
      for (let i = rng.int(3) + 1; i > 0; i--) {
        const f = fields[rng.int(fields.length)] as string;
        if (rng.next() < 0.2) delete config[f];
        else config[f] = weird[rng.int(weird.length)];
      }
      let bytes = files.safetensors;
      if (rng.next() < 0.3) {
        bytes = bytes.slice();
        for (let i = rng.int(4) + 1; i > 0; i--) bytes[rng.int(bytes.length)] = rng.int(256);
      }
      try {
        parsePeft(rng.next() < 0.05 ? weird[rng.int(weird.length)] : config, bytes);
        parsed++;
      } catch (err) {
        if (!(err instanceof PeftError)) throw new Error(`case ${c}: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    expect(parsed).toBeGreaterThan(0);
  });
});
