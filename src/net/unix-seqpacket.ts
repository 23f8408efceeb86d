/**
 * Unix seqpacket sockets (`SOCK_SEQPACKET`): connections, like a stream,
 * that keep message boundaries, like datagrams. A listener accepts them;
 * each `send` is one message and each `recv` takes one whole (or reports it
 * `truncated`), in order, reliably. `recv` resolving `n === 0` with no
 * truncation means the peer closed (an empty message cannot be told apart:
 * avoid sending them).
 *
 * ```ts
 * import { UnixSeqpacketListener, UnixSeqpacketSocket } from 'percore';
 * const name = `\0percore-doc-seqpacket-${process.pid}`;
 * const listener = await UnixSeqpacketListener.bind(name);
 * const client = await UnixSeqpacketSocket.connect(name);
 * const server = await listener.accept();
 * await client.send(Buffer.from('one'));
 * await client.send(Buffer.from('two'));
 * const first = await server.recv(Buffer.alloc(64));   // 'one': boundaries kept
 * console.log(first.n, server.peerCredentials().pid === process.pid);   // 3 true
 * await Promise.all([client.close(), server.close(), listener.close()]);
 * ```
 */
import { socketClosed } from '../errors/errors';
import { Runtime } from '../runtime/runtime';
import { DatagramSocket } from './datagram-socket';
import { StreamListener } from './listener';
import type { UnixBindOptions } from './unix-listener';
import {
  connectNewUnix,
  encodeUnixName,
  listenUnix,
  peerCredentialsOf,
  SEQPACKET,
  unixNameOf,
  unlinkBound,
} from './unix-name';
import type { PeerCredentials } from './unix-stream';

/** One seqpacket connection (see the module docs). */
export class UnixSeqpacketSocket extends DatagramSocket<string> {
  private constructor(rt: Runtime, fd: number) {
    super(rt, fd, 'UnixSeqpacketSocket');
  }

  /** @internal an accepted connection. */
  static fromFd(rt: Runtime, fd: number): UnixSeqpacketSocket {
    return new UnixSeqpacketSocket(rt, fd);
  }

  /** Connects to the seqpacket listener bound to `path` (at once, or a
   * system error: `ENOENT`, `ECONNREFUSED`, `EAGAIN` when its backlog is full). */
  static async connect(path: string, options: { runtime?: Runtime } = {}): Promise<UnixSeqpacketSocket> {
    const rt = options.runtime ?? Runtime.current();
    encodeUnixName(path); // a bad name is refused before a socket is made
    return new UnixSeqpacketSocket(rt, connectNewUnix(rt, SEQPACKET, path));
  }

  /** Who is at the other end (`SO_PEERCRED`). */
  peerCredentials(): PeerCredentials {
    if (this.isClosing) throw socketClosed('UnixSeqpacketSocket');
    return peerCredentialsOf(this.rt, this.fd);
  }

  /** @internal a connection's messages come from its peer: named as it is. */
  sender(id: number): string {
    const name = this.rt.nativeDriver.msgName(id);
    return typeof name === 'number' ? '' : unixNameOf(name, 'recvmsg');
  }
}

/** A seqpacket listener: `accept()` or `for await (const conn of listener)`. */
export class UnixSeqpacketListener extends StreamListener<UnixSeqpacketSocket> {
  private constructor(
    rt: Runtime,
    fd: number,
    /** The name it was bound to. */
    readonly path: string,
  ) {
    super(rt, fd, 'UnixSeqpacketListener');
  }

  /** Binds and listens on `path`, as `UnixListener.bind` does. */
  // `override`: a class extending another inherits Function.prototype.bind as a static.
  static override async bind(path: string, options: UnixBindOptions = {}): Promise<UnixSeqpacketListener> {
    const rt = options.runtime ?? Runtime.current();
    const listener = new UnixSeqpacketListener(rt, listenUnix(rt, SEQPACKET, path, options), path);
    listener.arm();
    return listener;
  }

  /** @internal */
  protected override wrap(fd: number): UnixSeqpacketSocket {
    return UnixSeqpacketSocket.fromFd(this.rt, fd);
  }

  /** @internal */
  protected override onClosed(): void {
    unlinkBound(this.path);
  }
}
