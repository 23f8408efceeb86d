// Unix socket names as the API takes and gives them: a filesystem path, or a
// Linux abstract name written with a leading NUL ('\0name'), as node:net
// writes them. The bytes go to the host, which checks their length and form
// before the kernel sees them (-EINVAL: empty, too long, a NUL in a path).
import { invalidArgType, systemError } from '../errors/errors';

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
