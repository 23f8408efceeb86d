// One simulated host's kernel: its descriptor table and the socket calls
// (socket, bind, listen, accept, connect, send, recv, shutdown, close). TCP
// itself is tcp.ts; this file is what is per host: descriptors, ports and
// listeners. Descriptors are the lowest free number from 3, as in Linux, up to
// `maxFds` (then EMFILE).
import * as L from '../core/layout';
import {
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAFNOSUPPORT,
  EALREADY,
  EBADF,
  EINVAL,
  EISCONN,
  EMFILE,
  ENFILE,
  ENOBUFS,
  ENOMEM,
  ENOTCONN,
} from '../errors/errno';
import { type Endpoint, isLoopback, isWildcard } from './address';
import type { Prng } from './prng';
import { AGAIN, SimSocket } from './socket';
import type { Tcp } from './tcp';

/** What a kernel shares with the world. */
export interface KernelWorld {
  readonly tcp: Tcp;
  readonly prng: Prng;
  /** Per accept: the chance it fails with a resource error (faults.acceptError). */
  readonly acceptError: number;
}

const ACCEPT_ERRORS = [EMFILE, ENFILE, ENOMEM, ENOBUFS];

export class SimKernel {
  readonly fds = new Map<number, SimSocket>();
  private readonly bound: SimSocket[] = [];
  /** Bytes a socket of this host takes unread before its peer must wait. */
  window: number;

  constructor(
    /** The host's name, for links and traces. */
    readonly name: string,
    /** The host's address (besides loopback). */
    readonly ip: string,
    private readonly world: KernelWorld,
    options: { window: number; maxFds: number },
  ) {
    this.window = options.window;
    this.maxFds = options.maxFds;
  }

  /** Descriptors this host may have open at once (RLIMIT_NOFILE). */
  maxFds: number;

  /** A new socket, not yet in the descriptor table. */
  newSocket(family: 4 | 6): SimSocket {
    return new SimSocket(this, family);
  }

  /** socket(2): the lowest free descriptor, or -EMFILE. */
  socket(family: 4 | 6): number {
    return this.install(this.newSocket(family));
  }

  private install(sock: SimSocket): number {
    if (this.fds.size >= this.maxFds) return -EMFILE;
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, sock);
    return fd;
  }

  get(fd: number): SimSocket | undefined {
    return this.fds.get(fd);
  }

  setOption(fd: number, option: number, value: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (option < L.SOCKOPT_REUSEADDR || option > L.SOCKOPT_LINGER_ZERO) return -EINVAL;
    sock.options.set(option, value !== 0 ? 1 : 0);
    return 0;
  }

  getOption(fd: number, option: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (option < L.SOCKOPT_REUSEADDR || option > L.SOCKOPT_LINGER_ZERO) return -EINVAL;
    return sock.options.get(option) ?? 0;
  }

  /** Whether `ip` is one of this host's addresses (or a wildcard). */
  owns(ip: string): boolean {
    return ip === this.ip || isWildcard(ip) || isLoopback(ip);
  }

  bind(fd: number, at: Endpoint, family: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (family !== sock.family) return -EAFNOSUPPORT;
    if (sock.local !== undefined) return -EINVAL;
    if (!this.owns(at.ip)) return -EADDRNOTAVAIL;
    const reusePort = sock.options.get(L.SOCKOPT_REUSEPORT) === 1;
    let port = at.port;
    if (port === 0) port = this.ephemeralPort(at.ip);
    else if (this.bound.some((s) => this.clash(s, at.ip, port, reusePort))) return -EADDRINUSE;
    if (port < 0) return -EADDRINUSE;
    sock.local = { ip: at.ip, port };
    this.bound.push(sock);
    return 0;
  }

  private clash(s: SimSocket, ip: string, port: number, reusePort: boolean): boolean {
    if (s.local === undefined || s.local.port !== port || s.state === 'closed') return false;
    if (reusePort && s.options.get(L.SOCKOPT_REUSEPORT) === 1) return false;
    return s.local.ip === ip || isWildcard(s.local.ip) || isWildcard(ip);
  }

  /** A free port in Linux's ephemeral range, starting where the PRNG says. */
  private ephemeralPort(ip: string): number {
    const first = 32768;
    const span = 61000 - first;
    const start = this.world.prng.below(span);
    for (let i = 0; i < span; i++) {
      const port = first + ((start + i) % span);
      if (!this.bound.some((s) => this.clash(s, ip, port, false))) return port;
    }
    return -1;
  }

  listen(fd: number, backlog: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (sock.state !== 'open' && sock.state !== 'listening') return -EINVAL;
    if (sock.local === undefined) {
      const r = this.bind(fd, { ip: sock.family === 6 ? '::' : '0.0.0.0', port: 0 }, sock.family);
      if (r < 0) return r;
    }
    sock.state = 'listening';
    sock.backlog = backlog;
    return 0;
  }

  /** The listener a SYN for `dst` reaches (several sharing a port with
   * SO_REUSEPORT: one chosen by the PRNG), or undefined. */
  listenerFor(dst: Endpoint): SimSocket | undefined {
    const found = this.bound.filter(
      (s) =>
        s.state === 'listening' &&
        s.local!.port === dst.port &&
        (s.local!.ip === dst.ip || isWildcard(s.local!.ip) || (isLoopback(s.local!.ip) && isLoopback(dst.ip))),
    );
    if (found.length <= 1) return found[0];
    return found[this.world.prng.below(found.length)];
  }

  /** accept4(2): a new descriptor, AGAIN when none is queued, or -errno. */
  accept(fd: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (sock.state !== 'listening') return -EINVAL;
    if (sock.acceptQueue.length === 0) return AGAIN;
    if (this.world.prng.chance(this.world.acceptError)) {
      return -ACCEPT_ERRORS[this.world.prng.below(ACCEPT_ERRORS.length)];
    }
    const child = sock.acceptQueue[0];
    const res = this.install(child);
    if (res >= 0) sock.acceptQueue.shift();
    return res;
  }

  /** Starts connect(2): AGAIN (in progress) or -errno. */
  connect(fd: number, dst: Endpoint, family: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    if (family !== sock.family) return -EAFNOSUPPORT;
    if (sock.state === 'connected') return -EISCONN;
    if (sock.state === 'connecting') return -EALREADY;
    if (sock.state !== 'open') return -EINVAL;
    if (sock.local === undefined) {
      const from = isLoopback(dst.ip) ? dst.ip : sock.family === 6 ? '::' : this.ip;
      const r = this.bind(fd, { ip: from, port: 0 }, sock.family);
      if (r < 0) return r;
    }
    this.world.tcp.connect(sock, dst);
    return AGAIN;
  }

  /** close(2): 0 or -EBADF. */
  close(fd: number): number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    this.fds.delete(fd);
    const at = this.bound.indexOf(sock);
    if (at >= 0) this.bound.splice(at, 1);
    this.world.tcp.close(sock);
    return 0;
  }

  address(fd: number, which: 'local' | 'remote'): Endpoint | number {
    const sock = this.fds.get(fd);
    if (sock === undefined) return -EBADF;
    const at = which === 'local' ? sock.local : sock.state === 'connected' ? sock.remote : undefined;
    if (at !== undefined) return at;
    if (which === 'remote') return -ENOTCONN;
    return { ip: sock.family === 6 ? '::' : '0.0.0.0', port: 0 };
  }

  /** Power loss: every socket vanishes with no FIN or RST (listeners' queues
   * too); a segment that reaches one later is answered with RST, as a
   * rebooted host answers a connection it does not know. */
  crash(): void {
    for (const sock of this.fds.values()) {
      for (const child of sock.acceptQueue.splice(0)) child.state = 'closed';
      sock.state = 'closed';
      sock.onReady = undefined;
      sock.inbox.length = 0;
      sock.buffered = 0;
    }
    this.fds.clear();
    this.bound.length = 0;
  }
}
