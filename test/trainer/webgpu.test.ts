/**
 * WebGPU correctness: 20 training steps on the webgpu backend (Dawn through the npm
 * `webgpu` package; in CI on Mesa's lavapipe, a CPU Vulkan driver) give the same
 * losses as the plain cpu backend to 1e-4, base training and LoRA alike.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/trainer/config.ts';
import { runInTrainer } from '../../src-main/trainer/host.ts';
import type { TrainerMessage } from '../../src-main/trainer/protocol.ts';
import type { NamedTensors } from '../../src-main/weights/named.ts';

/** Whether a WebGPU adapter (any, software included) can be had here. */
const webgpuAvailable = (() => {
  try {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const probe = "const {initBackend}=await import('./src-main/trainer/backend.ts');await initBackend('webgpu');process.exit(0)";
    execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', probe], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
})();

const small = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes: [784, 64, 10], batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 0, maxSteps: 20, ...over,
});

async function losses(backend: string, config: RunConfig, baseWeights?: NamedTensors): Promise<{ losses: number[]; weights: NamedTensors; backend: string }> {
  const msgs: TrainerMessage[] = [];
  const out = await runInTrainer({ runId: backend, config, ...(baseWeights ? { baseWeights } : {}) }, (m) => msgs.push(m), { env: { ...process.env, LORA_LAB_BACKEND: backend } });
  if (out.status !== 'completed') throw new Error(`${backend}: ${out.status === 'failed' ? out.error : out.status}`);
  const l = msgs.flatMap((m) => (m.type === 'metrics' ? m.points.filter((p) => p.key === 'train/loss').map((p) => p.value) : []));
  return { losses: l, weights: out.weights.tensors, backend: out.backend };
}

describe.skipIf(!webgpuAvailable)('webgpu backend (no WebGPU adapter here: install mesa-vulkan-drivers ≥ 25)', () => {
  it('base training: 20 steps match the cpu backend to 1e-4', async () => {
    const [gpu, cpu] = [await losses('webgpu', small()), await losses('cpu', small())];
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.losses).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
    expect(gpu.losses.at(-1)!).toBeLessThan(gpu.losses[0]!);
  });

  it('LoRA fine-tuning: 20 steps match the cpu backend to 1e-4', async () => {
    const base = await losses('cpu', small({ maxSteps: 5 }));
    const cfg = { ...defaultConfig('lora'), sizes: [784, 64, 10], batchSize: 16, testLimit: 200, evalEvery: 0, maxSteps: 20, digits: [7] };
    cfg.lora = { ...cfg.lora!, targets: ['linear1', 'linear2'], init: 'gaussian' as const };
    const [gpu, cpu] = [await losses('webgpu', cfg, base.weights), await losses('cpu', cfg, base.weights)];
    for (let i = 0; i < 20; i++) expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
  });
});
