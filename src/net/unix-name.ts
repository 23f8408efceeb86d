// Unix socket names as the API takes and gives them: a filesystem path, or a
// Linux abstract name written with a leading NUL ('\0name'), as node:net
// writes them. The bytes go to the host, which checks their length and form
// before the kernel sees them (-EINVAL: empty, too long, a NUL in a path).
import { unlinkSync } from 'node:fs';
import { invalidArgType, systemError } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import type { Runtime } from '../runtime/runtime';

/** Socket types the host takes for Unix sockets. */
export const STREAM = 1;
export const DGRAM = 2;
export const SEQPACKET = 5;

/** The name's bytes for the host. */
export function encodeUnixName(path: unknown, name = 'path'): Uint8Array {
  if (typeof path !== 'string') throw invalidArgType(name, 'of type string', path);
  return Buffer.from(path, 'utf8');
}

/** A name from the host as a string ('' for an unnamed socket), or the system error its failure means. */
export function unixNameOf(result: Uint8Array | number, syscall: string): string {
  if (typeof result === 'number') throw systemError(result, syscall);
  return Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString('utf8');
}

/** Whether `path` is an abstract name (no file in the filesystem). */
export function isAbstractName(path: string): boolean {
  return path.startsWith('\0');
}

/** A name for a message: an abstract name's NUL shown as '@', as ss(8) does. */
export function printable(path: string): string {
  return isAbstractName(path) ? `@${path.slice(1)}` : path;
}

/** A Unix socket of `type`, bound to `path` when one is given (and, with
 * `backlog`, listening). Throws the system error, the socket closed. */
export function openUnix(
  rt: Runtime,
  type: typeof STREAM | typeof DGRAM | typeof SEQPACKET,
  path: string | undefined,
  options: { unlinkStale?: boolean; backlog?: number },
): number {
  const name = path === undefined ? undefined : encodeUnixName(path);
  rt.assertOpen();
  const host = rt.nativeDriver;
  const fd = host.socket(1, type);
  if (fd < 0) throw systemError(fd, 'socket');
  let res = 0;
  let syscall = 'bind';
  if (name !== undefined) res = host.bindUnix(fd, name, options.unlinkStale === true);
  if (res >= 0 && options.backlog !== undefined) {
    syscall = 'listen';
    res = host.listen(fd, options.backlog);
  }
  if (res < 0) {
    host.closeFd(fd);
    const err = systemError(res, syscall, printable(path ?? ''));
    err.address = path;
    throw err;
  }
  return fd;
}

/** Connects Unix socket `fd` to `path` at once; throws the system error. */
export function connectUnix(rt: Runtime, fd: number, path: string): void {
  const res = rt.nativeDriver.connectUnix(fd, encodeUnixName(path));
  if (res < 0) {
    const err = systemError(res, 'connect', printable(path));
    err.address = path;
    throw err;
  }
}

/** Removes the socket file a closed socket was bound to (as node:net does); an abstract name has none. */
export function unlinkBound(path: string | undefined): void {
  if (path === undefined || isAbstractName(path)) return;
  try {
    unlinkSync(path);
  } catch {
    // Gone already (removed by someone else): nothing to clean up.
  }
}

/** A listening Unix socket of `type` on `path` (backlog default 511, like node:net). */
export function listenUnix(
  rt: Runtime,
  type: typeof STREAM | typeof SEQPACKET,
  path: string,
  options: { unlinkStale?: boolean; backlog?: number },
): number {
  const backlog = options.backlog ?? 511;
  validateInteger(backlog, 'options.backlog', 0, 65535);
  return openUnix(rt, type, path, { unlinkStale: options.unlinkStale, backlog });
}

/** A new Unix socket of `type` connected to `path`; throws the system error. */
export function connectNewUnix(rt: Runtime, type: typeof STREAM | typeof SEQPACKET, path: string): number {
  const fd = openUnix(rt, type, undefined, {});
  try {
    connectUnix(rt, fd, path);
  } catch (err) {
    rt.nativeDriver.closeFd(fd);
    throw err;
  }
  return fd;
}

/** SO_PEERCRED of `fd`; throws the system error. */
export function peerCredentialsOf(rt: Runtime, fd: number): { pid: number; uid: number; gid: number } {
  const res = rt.nativeDriver.peerCredentials(fd);
  if (typeof res === 'number') throw systemError(res, 'getsockopt');
  return res;
}
