// Node's open flags ('r', 'w', 'a+', 'wx'…) as the layout's OPEN_F_* bits,
// which the host translates into the platform's O_* flags.
import * as L from '../core/layout';
import { invalidArgValue } from '../errors/errors';

const W = L.OPEN_F_WRITE;
const RW = L.OPEN_F_READ_WRITE;
const CREATE_TRUNC = L.OPEN_F_CREATE | L.OPEN_F_TRUNC;
const CREATE_APPEND = L.OPEN_F_CREATE | L.OPEN_F_APPEND;

/** Node's flag strings (fs.open), the same meanings. */
const FLAGS: Record<string, number> = {
  r: 0,
  rs: L.OPEN_F_SYNC,
  sr: L.OPEN_F_SYNC,
  'r+': RW,
  'rs+': RW | L.OPEN_F_SYNC,
  'sr+': RW | L.OPEN_F_SYNC,
  w: W | CREATE_TRUNC,
  wx: W | CREATE_TRUNC | L.OPEN_F_EXCL,
  xw: W | CREATE_TRUNC | L.OPEN_F_EXCL,
  'w+': RW | CREATE_TRUNC,
  'wx+': RW | CREATE_TRUNC | L.OPEN_F_EXCL,
  'xw+': RW | CREATE_TRUNC | L.OPEN_F_EXCL,
  a: W | CREATE_APPEND,
  ax: W | CREATE_APPEND | L.OPEN_F_EXCL,
  xa: W | CREATE_APPEND | L.OPEN_F_EXCL,
  as: W | CREATE_APPEND | L.OPEN_F_SYNC,
  sa: W | CREATE_APPEND | L.OPEN_F_SYNC,
  'a+': RW | CREATE_APPEND,
  'ax+': RW | CREATE_APPEND | L.OPEN_F_EXCL,
  'xa+': RW | CREATE_APPEND | L.OPEN_F_EXCL,
  'as+': RW | CREATE_APPEND | L.OPEN_F_SYNC,
  'sa+': RW | CREATE_APPEND | L.OPEN_F_SYNC,
};

/** The OPEN_F_* bits of a Node flag string; throws `ERR_INVALID_ARG_VALUE`. */
export function openFlags(flags: string): number {
  const bits = typeof flags === 'string' ? FLAGS[flags] : undefined;
  if (bits === undefined)
    throw invalidArgValue('flags', flags, "must be one of Node's open flags ('r', 'w', 'a+', 'wx'…)");
  return bits;
}

/** Whether the bits open for writing (a positional write needs it). */
export function opensForWriting(bits: number): boolean {
  return (bits & (L.OPEN_F_WRITE | L.OPEN_F_READ_WRITE)) !== 0;
}
