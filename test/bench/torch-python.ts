import { execFileSync } from 'node:child_process';

/**
 * A python3 that can import torch (the benches' PyTorch side): LORA_LAB_PYTHON, the one
 * on PATH, or Debian's system interpreter (where apt's python3-torch lives when PATH
 * leads to another python first). Null when none has torch.
 */
export function findTorchPython(): string | null {
  for (const py of [process.env['LORA_LAB_PYTHON'], 'python3', '/usr/bin/python3'].filter(Boolean) as string[]) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      /* try the next one */
    }
  }
  return null;
}
