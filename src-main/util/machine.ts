import { totalmem } from 'node:os';

/** The memory this process may use: the machine's, or less where a container (cgroup) limits it. */
export function machineMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : totalmem();
}
