/**
 * Unix-domain stream listeners: bind a filesystem path or a Linux abstract
 * name, listen, and accept connections as `UnixStream`s. Accepting, its
 * queue, back-off and close are every listener's (`StreamListener`,
 * src/net/listener.ts).
 *
 * A filesystem name is a socket file. Binding fails with `EADDRINUSE` while
 * that file exists, even if nobody listens on it any more (a server that
 * crashed leaves it): pass `unlinkStale: true` to remove such a file first.
 * Only a socket file that refuses connections is removed, never a regular
 * file nor a socket someone still serves. `close()` unlinks the file, as
 * node:net does. An abstract name (`'\0name'`) has no file.
 *
 * ```ts
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { UnixListener, UnixStream } from 'percore';
 * const path = join(tmpdir(), `percore-doc-${process.pid}.sock`);
 * const listener = await UnixListener.bind(path, { unlinkStale: true });
 * const client = await UnixStream.connect(path);
 * const server = await listener.accept();
 * console.log(client.peerName() === path);   // true
 * await Promise.all([client.close(), server.close(), listener.close()]);   // unlinks path
 * ```
 */
import { socketClosed } from '../errors/errors';
import { Runtime } from '../runtime/runtime';
import { StreamListener } from './listener';
import { listenUnix, STREAM, unixNameOf, unlinkBound } from './unix-name';
import { UnixStream } from './unix-stream';

/** Options of `UnixListener.bind`. */
export interface UnixBindOptions {
  /** Remove a stale socket file at the path first (one nobody listens on).
   * Default false: an existing file is `EADDRINUSE`. */
  unlinkStale?: boolean;
  /** The kernel's accept queue length. Default 511, like node:net. */
  backlog?: number;
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
}

/** A Unix-domain stream listener: `accept()` or `for await (const stream of listener)`. */
export class UnixListener extends StreamListener<UnixStream> {
  private constructor(
    rt: Runtime,
    fd: number,
    /** The name it was bound to. */
    readonly path: string,
  ) {
    super(rt, fd, 'UnixListener');
  }

  /** Binds and listens on `path` (`'\0name'` for an abstract name).
   * Rejects with a system error: `EADDRINUSE` (the name is taken; see
   * `unlinkStale`), `EACCES`, `ENOENT` (no such directory), `EINVAL` (an
   * empty name, or one longer than 107 bytes). */
  // `override`: a class extending another inherits Function.prototype.bind as a static.
  static override async bind(path: string, options: UnixBindOptions = {}): Promise<UnixListener> {
    const rt = options.runtime ?? Runtime.current();
    const listener = new UnixListener(rt, listenUnix(rt, STREAM, path, options), path);
    listener.arm();
    return listener;
  }

  /** The bound name, as the kernel reports it. */
  localName(): string {
    if (this.isClosing) throw socketClosed('UnixListener');
    return unixNameOf(this.rt.nativeDriver.unixLocalName(this.fd), 'getsockname');
  }

  /** @internal */
  protected override wrap(fd: number): UnixStream {
    return new UnixStream(this.rt, fd);
  }

  /** @internal the socket is closed: its file goes too (as node:net's). */
  protected override onClosed(): void {
    unlinkBound(this.path);
  }
}
