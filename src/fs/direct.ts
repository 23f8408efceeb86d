// O_DIRECT's rules, checked before the kernel sees a transfer: the file
// position, the length and the memory must all be aligned, or the kernel
// answers a bare EINVAL. The alignments come from statx (STATX_DIOALIGN,
// 6.1+); a kernel that does not say gets 512 for both, the common sector size.
import { codedError, type PercoreError } from '../errors/errors';
import type { Runtime } from '../runtime/runtime';
import type { FileStat } from './stat';

/** What an O_DIRECT file requires of every transfer, in bytes. */
export interface DirectAlignment {
  /** Of the buffer's address. */
  readonly memory: number;
  /** Of the file position and the length. */
  readonly offset: number;
}

const SECTOR = 512;

export function directAlignment(st: FileStat): DirectAlignment {
  return { memory: st.directMemoryAlign || SECTOR, offset: st.directOffsetAlign || SECTOR };
}

/** The error for a transfer O_DIRECT would refuse, or undefined. `buf` goes
 * to the kernel as it is when it is a pool buffer (the arena starts on a
 * page), else through pool buffers of `rt.bufferSize` bytes from their start. */
export function misalignment(
  rt: Runtime,
  align: DirectAlignment,
  buf: Uint8Array,
  pos: number,
  length: number,
): PercoreError | undefined {
  if (pos % align.offset !== 0) return misaligned(`the position ${pos}`, align.offset);
  if (length % align.offset !== 0) return misaligned(`the length ${length}`, align.offset);
  const arenaOffset = rt.arenaOffsetOf(buf);
  if (arenaOffset >= 0 && arenaOffset % align.memory !== 0) {
    return misaligned(`the pool buffer view (at byte ${arenaOffset} of the arena)`, align.memory);
  }
  // A run longer than a pool buffer moves one pool buffer at a time, so each
  // piece must be aligned too.
  if (length > rt.bufferSize && rt.bufferSize % align.offset !== 0) {
    return misaligned(`the runtime's bufferSize ${rt.bufferSize}`, align.offset);
  }
  if (arenaOffset < 0 && rt.bufferSize % align.memory !== 0) {
    return misaligned(`the runtime's bufferSize ${rt.bufferSize}`, align.memory);
  }
  return undefined;
}

function misaligned(what: string, alignment: number): PercoreError {
  return codedError(
    'ERR_PERCORE_DIRECT_ALIGNMENT',
    `the file was opened with direct: true (O_DIRECT), which needs ${what} to be a multiple of ${alignment}`,
    RangeError,
  );
}
