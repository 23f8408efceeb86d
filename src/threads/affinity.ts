/**
 * CPU pinning for the calling thread: `sched_setaffinity(0, …)` in the host.
 * Pinning a runtime's thread to one core keeps its caches, its ring and its
 * accepted connections' softirq work on that core; the launcher does it for
 * each thread with `start({ pin: true })`.
 *
 * ```ts
 * import { getAffinity, setAffinity } from 'percore';
 * const cpus = getAffinity();          // e.g. [0, 1]
 * setAffinity([cpus[0]]);              // this thread now runs on the first only
 * ```
 */
import { type AddonModule, loadAddon } from '../driver/addon';
import { invalidArgType } from '../errors/errors';

/** Pins the calling thread (not the process) to `cpus`. Returns false, and
 * changes nothing, where that is not possible: a CPU this process may not use,
 * a platform without affinity, a container that forbids it. Throws only for
 * arguments that are not a non-empty array of CPU numbers. */
export function setAffinity(cpus: readonly number[]): boolean {
  if (!Array.isArray(cpus) || cpus.length === 0 || !cpus.every((c) => Number.isInteger(c) && c >= 0)) {
    throw invalidArgType('cpus', 'a non-empty array of CPU numbers (integers >= 0)', cpus);
  }
  let host: AddonModule;
  try {
    host = loadAddon();
  } catch {
    return false;
  }
  if (typeof host.setAffinity !== 'function') return false;
  return host.setAffinity(cpus) === 0;
}

/** The CPUs the calling thread may run on, ascending; `[]` where that cannot be known. */
export function getAffinity(): number[] {
  let host: AddonModule;
  try {
    host = loadAddon();
  } catch {
    return [];
  }
  if (typeof host.getAffinity !== 'function') return [];
  const cpus = host.getAffinity();
  return typeof cpus === 'number' ? [] : cpus;
}
