import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { runInTrainer } from '../../src-main/trainer/host.ts';
import type { Evaluation, TrainerMessage } from '../../src-main/contract/protocol.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';

/** A small base run for comparing backends: MLP 784→100→10 (its first layer is big enough
 * for the wasm optimizer to split with its helper thread), 320 images, 20 steps of 16. */
export const smallRun = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes: [784, 100, 10], batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 0, maxSteps: 20, ...over,
});

/** A small LoRA run on digit 7 over `smallRun`'s architecture. */
export function smallLoraRun(): RunConfig {
  const cfg = { ...defaultConfig('lora'), sizes: [784, 100, 10], batchSize: 16, testLimit: 200, evalEvery: 0, maxSteps: 20, classes: [7] };
  cfg.lora = { ...cfg.lora!, targets: ['linear1', 'linear2'], init: 'gaussian' as const };
  return cfg;
}

/** Run in a real trainer process on `backend`: every step's loss, the final evaluation and weights. */
export async function trainOn(
  backend: string,
  config: RunConfig,
  baseWeights?: NamedTensors,
): Promise<{ losses: number[]; after: Evaluation; weights: NamedTensors; backend: string }> {
  const msgs: TrainerMessage[] = [];
  const out = await runInTrainer({ runId: backend, config, data: MNIST, ...(baseWeights ? { baseWeights } : {}) }, (m) => msgs.push(m), { env: { ...process.env, LORA_LAB_BACKEND: backend } });
  if (out.status !== 'completed') throw new Error(`${backend}: ${out.status === 'failed' ? out.error : out.status}`);
  const losses = msgs.flatMap((m) => (m.type === 'metrics' ? m.points.filter((p) => p.key === 'train/loss').map((p) => p.value) : []));
  const after = msgs.find((m): m is Extract<TrainerMessage, { type: 'evaluation' }> => m.type === 'evaluation' && m.phase === 'after');
  if (!after) throw new Error(`${backend}: no final evaluation`);
  return { losses, after: after.result, weights: out.weights.tensors, backend: out.backend };
}
