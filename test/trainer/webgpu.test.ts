/**
 * WebGPU correctness: 20 training steps on the webgpu backend (Dawn through the npm
 * `webgpu` package; in CI on Mesa's lavapipe, a CPU Vulkan driver) give the same
 * losses as the plain cpu backend to 1e-4, base training and LoRA alike.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { smallLoraRun, smallRun, trainOn } from '../helpers/trainer-run.ts';

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

describe.skipIf(!webgpuAvailable)('webgpu backend (no WebGPU adapter here: install mesa-vulkan-drivers ≥ 25)', () => {
  it('base training: 20 steps match the cpu backend to 1e-4', async () => {
    const [gpu, cpu] = [await trainOn('webgpu', smallRun()), await trainOn('cpu', smallRun())];
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.losses).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
    expect(gpu.losses.at(-1)!).toBeLessThan(gpu.losses[0]!);
    expect(Math.abs(gpu.after.loss - cpu.after.loss)).toBeLessThanOrEqual(1e-3); // the evaluation's fused multiply too
  });

  it('LoRA fine-tuning: 20 steps match the cpu backend to 1e-4', async () => {
    const base = await trainOn('cpu', smallRun({ maxSteps: 5 }));
    const cfg = smallLoraRun();
    const [gpu, cpu] = [await trainOn('webgpu', cfg, base.weights), await trainOn('cpu', cfg, base.weights)];
    for (let i = 0; i < 20; i++) expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
  });
});
