/**
 * Unix-domain stream connections: how they are opened (`connect`, from a
 * `UnixListener`) and what only Unix sockets have (names, the peer's
 * credentials). Reading and writing are every stream's, in `FdStream`
 * (src/io/fd-stream.ts): `copy()`, `BufReader`/`BufWriter`, `recv()` and the
 * Node bridge (`toDuplex`) work on them as on a `TcpStream`.
 *
 * A name is a filesystem path or, on Linux, an abstract name written with a
 * leading NUL (`'\0my-service'`), which lives in the kernel only: no file to
 * unlink, gone when the last socket bound to it closes.
 *
 * ```ts
 * import { UnixListener, UnixStream } from 'percore';
 * const name = `\0percore-doc-${process.pid}`;
 * const listener = await UnixListener.bind(name);
 * const client = await UnixStream.connect(name);
 * const server = await listener.accept();
 * await client.writeAll(Buffer.from('hi'));
 * const [n] = await server.read(Buffer.alloc(16));   // n === 2
 * console.log(server.peerCredentials().pid === process.pid);   // true
 * await Promise.all([client.close(), server.close(), listener.close()]);
 * ```
 */
import { abortError, socketClosed } from '../errors/errors';
import { validateSignal } from '../errors/validate';
import { FdStream } from '../io/fd-stream';
import { Runtime } from '../runtime/runtime';
import { connectNewUnix, encodeUnixName, peerCredentialsOf, STREAM, unixNameOf } from './unix-name';

/** Who is at the other end of a Unix socket (`SO_PEERCRED`). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Options of `UnixStream.connect`. */
export interface UnixConnectOptions {
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Abort the connection attempt (checked before it starts: a Unix connect
   * completes at once). */
  signal?: AbortSignal;
}

/** A Unix-domain stream connection with rent-style reads and writes. */
export class UnixStream extends FdStream {
  /** Connects to the listener bound to `path` (`'\0name'` for an abstract
   * name). A Unix connect never waits for the other side: it is queued in
   * the listener's backlog at once, or rejects with a system error:
   * `ENOENT` (no such file), `ECONNREFUSED` (nobody listens), `EAGAIN` (the
   * backlog is full, as node:net reports it), `EINVAL` (an empty name, or
   * one longer than 107 bytes).
   * ```ts
   * const name = `\0percore-doc-connect-${process.pid}`;   // or a path: '/run/my-service.sock'
   * const server = await UnixListener.bind(name);
   * const stream = await UnixStream.connect(name);
   * await Promise.all([stream.close(), server.close()]);
   * ```
   */
  static async connect(path: string, options: UnixConnectOptions = {}): Promise<UnixStream> {
    validateSignal(options.signal, 'options.signal');
    const rt = options.runtime ?? Runtime.current();
    encodeUnixName(path); // a bad name is refused before a socket is made
    if (options.signal?.aborted) throw abortError(options.signal.reason);
    return new UnixStream(rt, connectNewUnix(rt, STREAM, path));
  }

  /** This end's name: `''` for a connecting socket (unnamed). */
  localName(): string {
    if (this.isClosing) throw socketClosed('UnixStream');
    return unixNameOf(this.rt.nativeDriver.unixLocalName(this.fd), 'getsockname');
  }

  /** The other end's name: the listener's path for a client, `''` for an
   * accepted connection (its client is unnamed). */
  peerName(): string {
    if (this.isClosing) throw socketClosed('UnixStream');
    return unixNameOf(this.rt.nativeDriver.unixPeerName(this.fd), 'getpeername');
  }

  /** Who is at the other end (`SO_PEERCRED`): pid, uid and gid of the
   * process that connected (or listened), as the kernel recorded them when
   * the connection was made. The basis of access control on a local socket.
   * ```ts
   * const name = `\0percore-doc-cred-${process.pid}`;
   * const server = await UnixListener.bind(name);
   * const client = await UnixStream.connect(name);
   * const conn = await server.accept();
   * if (conn.peerCredentials().uid !== process.getuid?.()) console.log('a stranger');   // refuse it
   * await Promise.all([client.close(), conn.close(), server.close()]);
   * ```
   */
  peerCredentials(): PeerCredentials {
    if (this.isClosing) throw socketClosed('UnixStream');
    return peerCredentialsOf(this.rt, this.fd);
  }
}
