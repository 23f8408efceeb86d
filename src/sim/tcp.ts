// TCP as the simulated kernel runs it: the handshake (SYN retried on a lost
// or queue-full attempt, refused by a host with no listener), ordered bytes
// split into segments as the PRNG says, a receive window whose credit comes
// back when the receiver reads (back-pressure), half-close by FIN, and reset
// by RST: from a close with unread data, from bytes sent to a closed socket,
// or from a fault.
import * as L from '../core/layout';
import { ECONNREFUSED, ECONNRESET, ENOTCONN, EPIPE, ETIMEDOUT } from '../errors/errno';
import type { Endpoint } from './address';
import type { FaultRates } from './faults';
import type { Links } from './links';
import type { Prng } from './prng';
import type { Scheduler } from './scheduler';
import {
  AGAIN,
  Pipe,
  READ_SIDE,
  SEG_ACK,
  SEG_DATA,
  SEG_FIN,
  SEG_RST,
  SEG_SYNACK,
  type Segment,
  type SimSocket,
  type SocketHost,
  WRITE_SIDE,
} from './socket';
import type { Trace } from './trace';

/** SYN retransmissions before a connect gives up with ETIMEDOUT (Linux's tcp_syn_retries). */
const SYN_RETRIES = 6;
/** The largest segment a send is cut into. */
const MAX_SEGMENT = 65536;

/** What TCP needs of the world: where an address lives. */
export interface Routes {
  /** The kernel that answers `ip` as seen from `from` (a loopback address is `from` itself). */
  kernelFor(from: SocketHost, ip: string): SocketHost | undefined;
}

export class Tcp {
  constructor(
    private readonly sched: Scheduler,
    private readonly prng: Prng,
    private readonly faults: FaultRates,
    private readonly trace: Trace,
    private readonly links: Links,
    private readonly routes: Routes,
  ) {
    links.onSegment = (pipe, seg) => this.arrive(pipe, seg);
    links.onTimeout = (pipe) => this.reset(pipe.from, ETIMEDOUT);
  }

  /** Starts the handshake of `sock` (bound already) to `dst`: CONNECT waits for `connectResult`. */
  connect(sock: SimSocket, dst: Endpoint): void {
    sock.state = 'connecting';
    sock.remote = dst;
    sock.connectResult = AGAIN;
    this.syn(sock, dst, 0);
  }

  private syn(sock: SimSocket, dst: Endpoint, attempt: number): void {
    const here = sock.kernel;
    const there = this.routes.kernelFor(here, dst.ip);
    const delay = there === undefined ? 0 : this.links.latency(here.name, there.name);
    this.sched.after(delay, () => {
      if (sock.state !== 'connecting') return;
      if (there === undefined || this.links.isDown(here.name, there.name)) return this.retrySyn(sock, dst, attempt);
      const listener = there.listenerFor(dst);
      if (listener === undefined || this.prng.chance(this.faults.refuse)) {
        this.trace.record('rf', this.sched.now, dst.port);
        this.sched.after(this.links.latency(there.name, here.name), () => {
          if (sock.state === 'connecting') this.endConnect(sock, -ECONNREFUSED);
        });
        return;
      }
      if (listener.acceptQueue.length > listener.backlog) return this.retrySyn(sock, dst, attempt);
      const server = there.newSocket(sock.family);
      server.local = { ip: dst.ip, port: dst.port };
      server.remote = sock.local;
      server.state = 'connected';
      server.peer = sock;
      sock.peer = server;
      server.out = new Pipe(server, sock);
      sock.out = new Pipe(sock, server);
      server.credit = here.window; // what the other end can take unread
      sock.credit = there.window;
      listener.acceptQueue.push(server);
      listener.ready(READ_SIDE);
      this.links.send(server.out, SEG_SYNACK, undefined, 0);
    });
  }

  /** No answer to SYN number `attempt`: the next one after 1, 2, 4, … s, and
   * ETIMEDOUT after the last (127 s in all, as Linux's defaults give). */
  private retrySyn(sock: SimSocket, dst: Endpoint, attempt: number): void {
    this.sched.after(1000 * 2 ** attempt, () => {
      if (sock.state !== 'connecting') return;
      if (attempt === SYN_RETRIES) this.endConnect(sock, -ETIMEDOUT);
      else this.syn(sock, dst, attempt + 1);
    });
  }

  private endConnect(sock: SimSocket, res: number): void {
    sock.connectResult = res;
    sock.state = res === 0 ? 'connected' : 'open';
    this.trace.record('cn', this.sched.now, -res);
    sock.ready(WRITE_SIDE);
  }

  /** Sends up to `len` bytes of `src`: how many went, AGAIN when the peer's window is full, or -errno. */
  send(sock: SimSocket, src: Uint8Array): number {
    if (sock.state !== 'connected') return sock.state === 'connecting' ? AGAIN : -ENOTCONN;
    if (sock.error !== 0) return -this.takeError(sock);
    if (sock.broken || sock.shutWr) return -EPIPE;
    if (sock.credit === 0) return AGAIN;
    let n = Math.min(src.length, sock.credit);
    if (n > 1 && this.prng.chance(this.faults.shortWrite)) n = 1 + this.prng.below(n - 1);
    // How the bytes are cut into segments is the network's choice: each cut
    // shows up as a short read at the other end.
    for (let off = 0; off < n; ) {
      let size = Math.min(n - off, MAX_SEGMENT);
      if (size > 1 && this.prng.chance(this.faults.split)) size = 1 + this.prng.below(size - 1);
      const data = src.slice(off, off + size);
      this.trace.bytes(data);
      this.links.send(sock.out!, SEG_DATA, data, size);
      off += size;
    }
    sock.credit -= n;
    return n;
  }

  /** Receives up to `into.length` bytes: how many, 0 at end of stream, AGAIN when none wait, or -errno. */
  recv(sock: SimSocket, into: Uint8Array): number {
    if (sock.shutRd) return 0;
    if (sock.buffered > 0) {
      let n = Math.min(into.length, sock.buffered);
      if (n > 1 && this.prng.chance(this.faults.shortRead)) n = 1 + this.prng.below(n - 1);
      this.take(sock, into, n);
      if (!sock.broken) this.links.send(sock.out!, SEG_ACK, undefined, n);
      return n;
    }
    if (sock.error !== 0) return -this.takeError(sock);
    if (sock.finReceived || sock.broken) return 0;
    if (sock.state === 'connected' || sock.state === 'connecting') return AGAIN;
    return -ENOTCONN;
  }

  private take(sock: SimSocket, into: Uint8Array, n: number): void {
    let done = 0;
    while (done < n) {
      const chunk = sock.inbox[0];
      const part = Math.min(n - done, chunk.length - sock.inboxOffset);
      if (part === chunk.length) into.set(chunk, done);
      else into.set(chunk.subarray(sock.inboxOffset, sock.inboxOffset + part), done);
      done += part;
      sock.inboxOffset += part;
      if (sock.inboxOffset === chunk.length) {
        sock.inbox.shift();
        sock.inboxOffset = 0;
      }
    }
    sock.buffered -= n;
  }

  private takeError(sock: SimSocket): number {
    const e = sock.error;
    sock.error = 0;
    return e;
  }

  /** shutdown(2): 0 or -ENOTCONN. */
  shutdown(sock: SimSocket, how: number): number {
    if (sock.state !== 'connected') return -ENOTCONN;
    if (how === 0 || how === 2) sock.shutRd = true;
    if ((how === 1 || how === 2) && !sock.shutWr) {
      sock.shutWr = true;
      if (!sock.broken) this.links.send(sock.out!, SEG_FIN, undefined, 0);
    }
    return 0;
  }

  /** The socket's descriptor is closed: FIN, or RST when bytes were left unread
   * (or SO_LINGER 0), as Linux does; a listener resets what it had not accepted. */
  close(sock: SimSocket): void {
    const was = sock.state;
    sock.state = 'closed';
    sock.onReady = undefined;
    if (was === 'listening') {
      for (const child of sock.acceptQueue.splice(0)) this.close(child);
    } else if (was === 'connected' && !sock.broken) {
      if (sock.buffered > 0 || (sock.options.get(L.SOCKOPT_LINGER_ZERO) ?? 0) !== 0) {
        this.links.send(sock.out!, SEG_RST, undefined, 0);
      } else if (!sock.shutWr) this.links.send(sock.out!, SEG_FIN, undefined, 0);
    }
    sock.inbox.length = 0;
    sock.buffered = 0;
  }

  /** The connection of `sock` is reset (ECONNRESET) or timed out (ETIMEDOUT). */
  reset(sock: SimSocket, errno: number): void {
    if (sock.state === 'closed' || sock.broken) return;
    this.trace.record('rs', this.sched.now, errno);
    sock.error = errno;
    sock.broken = true;
    sock.ready(READ_SIDE);
    sock.ready(WRITE_SIDE);
  }

  private arrive(pipe: Pipe, seg: Segment): void {
    const to = pipe.to;
    this.trace.record('sg', this.sched.now, seg.kind, seg.n);
    if (to.state === 'closed' || to.broken) {
      // Bytes for a socket that is gone: the peer hears RST.
      if ((seg.kind === SEG_DATA || seg.kind === SEG_SYNACK) && to.out !== undefined)
        this.links.send(to.out, SEG_RST, undefined, 0);
      return;
    }
    switch (seg.kind) {
      case SEG_DATA:
        if (this.prng.chance(this.faults.reset)) {
          this.reset(to, ECONNRESET);
          this.links.send(to.out!, SEG_RST, undefined, 0);
          return;
        }
        to.inbox.push(seg.data!);
        to.buffered += seg.n;
        to.ready(READ_SIDE);
        return;
      case SEG_FIN:
        to.finReceived = true;
        to.ready(READ_SIDE);
        return;
      case SEG_RST:
        this.reset(to, ECONNRESET);
        return;
      case SEG_ACK:
        to.credit += seg.n;
        to.ready(WRITE_SIDE);
        return;
      case SEG_SYNACK:
        if (to.state === 'connecting') this.endConnect(to, 0);
        return;
    }
  }
}
