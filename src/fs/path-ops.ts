/**
 * Path operations: rename, unlink, mkdir, rmdir, symlink, link.
 *
 * Each is one kernel operation through the runtime (io_uring's RENAMEAT,
 * UNLINKAT, MKDIRAT, SYMLINKAT and LINKAT; on the epoll driver, the same
 * system calls on its blocking pool), with its paths copied into a pool
 * buffer the host checks before the kernel reads it. Relative paths start
 * at the process's working directory. Errors are Node's, with `syscall`,
 * `path` and, for two paths, `dest`.
 *
 * ```ts
 * import * as os from 'node:os';
 * import * as path from 'node:path';
 * import * as fs from 'node:fs';
 * import { File, mkdir, rename, rmdir, unlink } from 'percore';
 * const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-paths-'));
 * await mkdir(path.join(dir, 'sub'), { mode: 0o750 });
 * await (await File.create(path.join(dir, 'sub', 'a'))).close();
 * await rename(path.join(dir, 'sub', 'a'), path.join(dir, 'sub', 'b'));
 * await unlink(path.join(dir, 'sub', 'b'));
 * await rmdir(path.join(dir, 'sub'));
 * fs.rmSync(dir, { recursive: true });
 * ```
 */
import * as L from '../core/layout';
import { invalidArgType } from '../errors/errors';
import { validateInteger, validateSignal } from '../errors/validate';
import { Runtime } from '../runtime/runtime';
import { pathBytes, runWithPoolBuffer } from './pool-buffer-op';

/** Options of every path operation. */
export interface PathOptions {
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Abort the operation (it rejects with an `AbortError` unless it was done). */
  signal?: AbortSignal;
}

/** Renames (moves) `oldPath` to `newPath`, replacing a file there (rename(2)). */
export function rename(oldPath: string, newPath: string, options?: PathOptions): Promise<void> {
  return pathOp(L.OP_RENAMEAT, 'rename', [oldPath, newPath], 0, 0, options);
}

/** Removes the file (or link) `path` (unlink(2)). */
export function unlink(path: string, options?: PathOptions): Promise<void> {
  return pathOp(L.OP_UNLINKAT, 'unlink', [path], 0, 0, options);
}

/** Removes the empty directory `path` (rmdir(2)). */
export function rmdir(path: string, options?: PathOptions): Promise<void> {
  return pathOp(L.OP_UNLINKAT, 'rmdir', [path], L.UNLINK_F_DIR, 0, options);
}

/** Creates the directory `path` with `options.mode` (default `0o777`, before the umask). */
export function mkdir(path: string, options?: PathOptions & { mode?: number }): Promise<void> {
  const mode = options?.mode ?? 0o777;
  try {
    validateInteger(mode, 'options.mode', 0, L.OPEN_MODE_MAX);
  } catch (err) {
    return Promise.reject(err);
  }
  return pathOp(L.OP_MKDIRAT, 'mkdir', [path], 0, mode, options);
}

/** Creates `path` as a symbolic link whose contents are `target` (symlink(2)). */
export function symlink(target: string, path: string, options?: PathOptions): Promise<void> {
  return pathOp(L.OP_SYMLINKAT, 'symlink', [target, path], 0, 0, options);
}

/** Creates `newPath` as a hard link to `existingPath` (link(2)). */
export function link(existingPath: string, newPath: string, options?: PathOptions): Promise<void> {
  return pathOp(L.OP_LINKAT, 'link', [existingPath, newPath], 0, 0, options);
}

function pathOp(
  opcode: number,
  syscall: string,
  paths: string[],
  flags: number,
  mode: number,
  options: PathOptions | undefined,
): Promise<void> {
  try {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw invalidArgType('options', 'of type object', options);
    }
    validateSignal(options?.signal, 'options.signal');
    paths.forEach((p, i) => {
      if (typeof p !== 'string') throw invalidArgType(i === 0 ? 'path' : 'dest', 'of type string', p);
    });
    const rt = options?.runtime ?? Runtime.current();
    rt.assertOpen();
    const bytes = pathBytes(rt, syscall, paths);
    return runWithPoolBuffer(rt, {
      syscall,
      path: paths[0],
      dest: paths[1],
      signal: options?.signal,
      fill: (buf) => {
        buf.set(bytes);
        return bytes.length;
      },
      submit: (r, index, len) => r.core.submitPathOp(opcode, index, 0, len, flags, mode),
      read: () => undefined,
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
