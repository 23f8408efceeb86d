/**
 * Files, read and written through the runtime's ring like sockets.
 *
 * ## The model
 * `File.open` makes the kernel open the file (io_uring's OPENAT; on the epoll
 * driver, where a regular file is never "ready", a small fixed pool of host
 * threads makes the same calls and posts the same completions). The file
 * descriptor belongs to the runtime, like a socket's: the host refuses any
 * operation on a descriptor it did not open, and closing the runtime closes it.
 *
 * Reads and writes follow the rent contract (see `RentStream`): the buffer
 * you pass is the operation's until it resolves `[n, buf]`, and an operation
 * that fails or is aborted rejects with it in `err.buffer`. Every read and
 * write names its position (`readAt(buf, pos)`, `writeAt(buf, pos)`), so
 * there is no shared cursor and any number may be in flight at once (queue
 * depth is the program's to choose). `readExactAt` and `writeAllAt` go on
 * until every byte moved. A pool buffer (`rt.buffer()`) is lent to the kernel
 * as it is; any other `Uint8Array` goes through one.
 *
 * Errors are Node's: `ENOENT`, `EEXIST`, `EISDIR` with `syscall` and `path`;
 * a closed file rejects with `EBADF`.
 *
 * ```ts
 * import * as os from 'node:os';
 * import * as path from 'node:path';
 * import * as fs from 'node:fs';
 * import { File } from 'percore';
 * const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-file-'));
 * const file = await File.open(path.join(dir, 'log'), { flags: 'w+', mode: 0o600 });
 * await file.writeAllAt(Buffer.from('hello, file'), 0);
 * await file.datasync();
 * const [n, buf] = await file.readAt(Buffer.alloc(5), 7);   // n === 4: 'file'
 * const { size } = await file.stat();                        // 11
 * await file.close();
 * fs.rmSync(dir, { recursive: true });
 * ```
 */
import * as L from '../core/layout';
import { EBADF } from '../errors/errno';
import { invalidArgType, type PercoreError, systemError } from '../errors/errors';
import { validateInteger, validateSignal } from '../errors/validate';
import { PlainOp, submitCloseThen } from '../io/plain-op';
import type { IoOptions, RentResult } from '../io/rent';
import { captureSettlers } from '../io/settlers';
import { type LaneOp, linkOp, type OpStream, type StreamOp, unlinkOp, withBuffer } from '../io/stream-op';
import { READ_AT, READ_EXACT_AT, type TransferKind, TransferOp, WRITE_ALL_AT, WRITE_AT } from '../io/transfer';
import { transferArgs } from '../io/transfer-args';
import { type Cancellable, kCancel } from '../runtime/cancel';
import { Runtime } from '../runtime/runtime';
import { type DirectAlignment, directAlignment, misalignment } from './direct';
import { openFlags } from './open-flags';
import { pathBytes, runWithPoolBuffer } from './pool-buffer-op';
import { FileStat } from './stat';

/** Options of `File.open`. */
export interface OpenOptions {
  /** Node's open flags: `'r'` (default), `'r+'`, `'w'`, `'wx'`, `'w+'`, `'a'`, `'a+'`, `'ax'`, `'rs+'`… */
  flags?: string;
  /** Permissions of a file it creates (before the umask). Default `0o666`. */
  mode?: number;
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Abort the open. */
  signal?: AbortSignal;
  /** O_DIRECT: transfers bypass the page cache. Every position and length
   * must then be a multiple of the file system's alignment (`stat()`'s
   * `directOffsetAlign`, 512 when the kernel does not say), and so must a
   * pool buffer view's place: a misaligned transfer rejects with
   * `ERR_PERCORE_DIRECT_ALIGNMENT` before the kernel sees it. A file system
   * without O_DIRECT (tmpfs) refuses the open with `EINVAL`. */
  direct?: boolean;
}

/** Options of `File.fallocate`. */
export interface FallocateOptions {
  /** Allocate without growing the file (FALLOC_FL_KEEP_SIZE). */
  keepSize?: boolean;
  /** Free the range instead (FALLOC_FL_PUNCH_HOLE; needs `keepSize`). */
  punchHole?: boolean;
  /** Zero the range (FALLOC_FL_ZERO_RANGE). */
  zeroRange?: boolean;
  signal?: AbortSignal;
}

const MAX_POSITION = Number.MAX_SAFE_INTEGER;

/** A file the runtime opened (see the module docs). */
export class File implements OpStream {
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;
  /** @internal operations in flight, which `close()` cancels. */
  firstOp: StreamOp | undefined = undefined;

  /** What O_DIRECT requires, when the file was opened with `direct: true`. */
  private direct: DirectAlignment | undefined = undefined;

  private constructor(
    /** @internal */ readonly rt: Runtime,
    /** The file descriptor (the runtime's: do not close it yourself). */
    readonly fd: number,
    /** The path it was opened with. */
    readonly path: string,
  ) {}

  /** Opens `path` (relative paths from the process's working directory).
   * Rejects with a system error carrying `path`: `ENOENT`, `EEXIST` (`'wx'`),
   * `EISDIR` (a directory opened for writing), `EACCES`, `ENAMETOOLONG`. */
  static open(path: string, options: OpenOptions = {}): Promise<File> {
    let rt: Runtime;
    let request: Promise<number> & Cancellable;
    try {
      if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
      if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
      const flags = openFlags(options.flags ?? 'r') | (options.direct === true ? L.OPEN_F_DIRECT : 0);
      const mode = options.mode ?? 0o666;
      validateInteger(mode, 'options.mode', 0, L.OPEN_MODE_MAX);
      validateSignal(options.signal, 'options.signal');
      rt = options.runtime ?? Runtime.current();
      rt.assertOpen();
      const bytes = pathBytes(rt, 'open', [path]);
      request = runWithPoolBuffer(rt, {
        syscall: 'open',
        path,
        signal: options.signal,
        fill: (buf) => {
          buf.set(bytes);
          return bytes.length;
        },
        submit: (r, index, len) => r.core.submitOpenat(index, 0, len, flags, mode),
        read: (res) => res,
      });
    } catch (err) {
      return Promise.reject(err);
    }
    const opened = request.then((fd) => File.opened(rt, fd, path, options.direct === true)) as Promise<File> &
      Cancellable;
    opened[kCancel] = request[kCancel]; // timeout() cancels the OPENAT itself
    return opened;
  }

  /** The File for an fd OPENAT gave; with O_DIRECT, its alignment first. */
  private static async opened(rt: Runtime, fd: number, path: string, direct: boolean): Promise<File> {
    const file = new File(rt, fd, path);
    if (direct) {
      try {
        file.direct = directAlignment(await file.stat());
      } catch (err) {
        await file.close();
        throw err;
      }
    }
    return file;
  }

  /** Opens `path` for writing, creating it or truncating it (`'w'`), as Monoio's `File::create`. */
  static create(path: string, options: Omit<OpenOptions, 'flags'> = {}): Promise<File> {
    return File.open(path, { ...options, flags: 'w' });
  }

  /** Reads at most `length` bytes (default `buf.length`) from position `pos`
   * into the start of `buf`; resolves `[n, buf]`, `n === 0` at the end of the file. */
  readAt(buf: Uint8Array, pos: number, options?: IoOptions): Promise<RentResult>;
  readAt(buf: Uint8Array, pos: number, length: number, options?: IoOptions): Promise<RentResult>;
  readAt(buf: Uint8Array, pos: number, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(READ_AT, buf, pos, length, options);
  }

  /** Fills the first `length` bytes (default all) of `buf` from position
   * `pos`; if the file ends first it rejects with `ERR_STREAM_PREMATURE_CLOSE`,
   * `bytesRead` and the buffer. */
  readExactAt(buf: Uint8Array, pos: number, options?: IoOptions): Promise<RentResult>;
  readExactAt(buf: Uint8Array, pos: number, length: number, options?: IoOptions): Promise<RentResult>;
  readExactAt(buf: Uint8Array, pos: number, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(READ_EXACT_AT, buf, pos, length, options);
  }

  /** Writes some (at least one) of the first `length` bytes of `buf` at
   * position `pos` (a file opened with an `'a'` flag appends wherever `pos` says). */
  writeAt(buf: Uint8Array, pos: number, options?: IoOptions): Promise<RentResult>;
  writeAt(buf: Uint8Array, pos: number, length: number, options?: IoOptions): Promise<RentResult>;
  writeAt(buf: Uint8Array, pos: number, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(WRITE_AT, buf, pos, length, options);
  }

  /** Writes all of the first `length` bytes of `buf` from position `pos`; on
   * failure the error carries the buffer and `bytesWritten`. */
  writeAllAt(buf: Uint8Array, pos: number, options?: IoOptions): Promise<RentResult>;
  writeAllAt(buf: Uint8Array, pos: number, length: number, options?: IoOptions): Promise<RentResult>;
  writeAllAt(buf: Uint8Array, pos: number, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(WRITE_ALL_AT, buf, pos, length, options);
  }

  /** Flushes the file's data and metadata to the device (fsync). */
  sync(options?: { signal?: AbortSignal }): Promise<void> {
    return this.fsync(0, 'fsync', options?.signal);
  }

  /** Flushes the file's data and what reading it back needs, not the rest of
   * its metadata (fdatasync: IORING_FSYNC_DATASYNC). */
  datasync(options?: { signal?: AbortSignal }): Promise<void> {
    return this.fsync(1, 'fdatasync', options?.signal);
  }

  /** Allocates disk space for `[offset, offset + length)` (fallocate(2)):
   * later writes there cannot fail for lack of space, and the file grows to
   * cover it unless `keepSize`. `punchHole` (with `keepSize`) frees the range
   * instead, `zeroRange` zeroes it; a file system without them rejects with
   * `EOPNOTSUPP`. */
  fallocate(offset: number, length: number, options: FallocateOptions = {}): Promise<void> {
    let mode: number;
    try {
      validateInteger(offset, 'offset', 0, MAX_POSITION);
      validateInteger(length, 'length', 1, MAX_POSITION - offset);
      if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
      mode =
        (options.keepSize === true ? L.FALLOC_F_KEEP_SIZE : 0) |
        (options.punchHole === true ? L.FALLOC_F_PUNCH_HOLE : 0) |
        (options.zeroRange === true ? L.FALLOC_F_ZERO_RANGE : 0);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.plainOp('fallocate', options.signal, (rt) => rt.core.submitFallocate(this.fd, mode, offset, length));
  }

  /** The file's metadata (statx). */
  stat(options?: { signal?: AbortSignal }): Promise<FileStat> {
    try {
      this.assertUsable('stat');
      validateSignal(options?.signal, 'options.signal');
    } catch (err) {
      return Promise.reject(err);
    }
    return runWithPoolBuffer(this.rt, {
      syscall: 'stat',
      signal: options?.signal,
      fill: () => L.STATX_SIZE,
      submit: (r, index) => r.core.submitStatx(this.fd, index, 0),
      read: (_res, buf) => new FileStat(buf),
    });
  }

  /** Closes the file. Operations in flight are cancelled first and reject with
   * `EBADF` (with their buffers) unless their result had arrived; the
   * descriptor is closed once the kernel has let go of them. Calling it again
   * returns the same promise. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => {
      this.finishClose = resolve;
    });
    if (this.firstOp === undefined) this.closeFd();
    else {
      // A cancel may settle its op at once (one waiting for a pool buffer),
      // which unlinks it: take the next one first.
      for (let op: StreamOp | undefined = this.firstOp, next: StreamOp | undefined; op !== undefined; op = next) {
        next = op.next;
        op.cancel(fileClosed(op.reads ? 'read' : 'write'));
      }
    }
    return this.closed;
  }

  /** @internal see `OpStream.admit`: positioned operations never wait for each other. */
  admit(_op: LaneOp): boolean {
    return true;
  }

  /** @internal nothing ever waits its turn on a file. */
  dequeue(_op: LaneOp): void {}

  /** @internal */
  started(op: StreamOp): void {
    linkOp(this, op);
  }

  /** @internal */
  settled(op: StreamOp): void {
    unlinkOp(this, op);
    if (this.firstOp === undefined && this.finishClose !== undefined) this.closeFd();
  }

  private transfer(
    kind: TransferKind,
    buf: Uint8Array,
    pos: number,
    lengthOrOptions: number | IoOptions | undefined,
    options: IoOptions | undefined,
  ): Promise<RentResult> {
    let op: TransferOp;
    const promise = new Promise<RentResult>(captureSettlers) as Promise<RentResult> & Cancellable;
    try {
      const args = transferArgs(buf, lengthOrOptions, options);
      validateInteger(pos, 'pos', 0, MAX_POSITION - args.limit);
      this.assertUsable(kind.syscall);
      const refused = this.direct && misalignment(this.rt, this.direct, buf, pos, args.limit);
      if (refused) throw refused;
      op = new TransferOp(this, kind, buf, args.limit, args.signal, pos);
    } catch (err) {
      return Promise.reject(withBuffer(err as PercoreError, buf));
    }
    promise[kCancel] = op;
    op.begin();
    return promise;
  }

  private fsync(datasync: number, syscall: string, signal: AbortSignal | undefined): Promise<void> {
    return this.plainOp(syscall, signal, (rt) => rt.core.submitFsync(this.fd, datasync));
  }

  /** An op with no buffer on this file (fsync, fallocate); `timeout()` and `signal` cancel it. */
  private plainOp(syscall: string, signal: AbortSignal | undefined, submit: (rt: Runtime) => number): Promise<void> {
    try {
      validateSignal(signal, 'options.signal');
      this.assertUsable(syscall);
    } catch (err) {
      return Promise.reject(err);
    }
    let op!: PlainOp;
    const promise = new Promise<void>((resolve, reject) => {
      op = new PlainOp({ syscall, signal }, () => resolve(), reject);
      op.start(this.rt, submit);
    }) as Promise<void> & Cancellable;
    promise[kCancel] = op;
    return promise;
  }

  private assertUsable(syscall: string): void {
    if (this.closing) throw fileClosed(syscall);
    this.rt.assertOpen();
  }

  private closeFd(): void {
    const finish = this.finishClose!;
    this.finishClose = undefined;
    submitCloseThen(this.rt, this.fd, finish);
  }
}

/** Node's error for a file handle used after `close()`. */
function fileClosed(syscall: string): PercoreError {
  return systemError(-EBADF, syscall);
}
