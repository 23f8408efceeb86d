// Loads the native host (the source build, else the package's prebuild for
// this platform: src/package/native.ts) and describes its surface; docs/ARCHITECTURE.md, "The host's exports", is the contract.
// No logic lives here: the runtime decides what to do with a driver.

import { addonLoadError, findAddon } from '../package/native';

/** A socket address as the host reports it (the shape of Node's `address()`). */
export interface HostAddress {
  /** Text form; an IPv6 link-local address carries `%interface`. */
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** What a driver has done so far. */
export interface DriverCounters {
  /** System calls into the kernel's queue (`io_uring_enter`). */
  enters: number;
  /** SQEs taken from the core's SQ: handed to the kernel or failed by a check. */
  submitted: number;
  /** CQEs written into the core's CQ (a multishot op writes several). */
  completed: number;
  /** Fds the driver owns now (sockets, pipes, accepted connections). */
  openFds: number;
  /** Wake-fd notifications handled on Node's loop. */
  wakeups: number;
  /** Readiness drivers: system calls that answered EAGAIN (0 under io_uring). */
  eagain: number;
  /** Cross-thread wakes this driver sent (`wake()`) as an IORING_OP_MSG_RING
   * into the target runtime's ring. */
  wakesMsgRing: number;
  /** Cross-thread wakes this driver sent by writing the target's eventfd: the
   * target or this driver is not io_uring, the kernel lacks MSG_RING, or a
   * MSG_RING failed in the kernel and was redone this way. */
  wakesEventfd: number;
  /** MSG_RING wakes other threads posted into this driver's ring. */
  ringWakes: number;
}

export interface DriverOptions {
  /** Kernel SQ entries, 1..32768 (default 256). The kernel CQ is sized to cover the core's CQ. */
  entries?: number;
  /**
   * Called on Node's loop (through MakeCallback: microtasks run after it) when
   * completions were reaped into the core's CQ, when the timer it armed fires,
   * or when a turn was asked for. Returns the next wait: -1 none, 0 another
   * turn on the next loop iteration, > 0 milliseconds. Never called from
   * `flush()` or `poll()`. An exception thrown here is an uncaught exception.
   */
  onTurn: () => number;
  /** io_uring only: send cross-thread wakes by IORING_OP_MSG_RING when the
   * kernel has it (default true); false keeps them on the eventfd. */
  msgRing?: boolean;
  /** io_uring only: keep the recv set in a registered buffer ring
   * (IORING_REGISTER_PBUF_RING, 5.19+) when the kernel takes one (default
   * true; `features` then has `pbuf_ring`); false emulates buffer selection
   * as on older kernels (`recv_select_emulated`): POLL_ADD, then a plain recv. */
  pbufRing?: boolean;
}

/**
 * One driver per thread: moves SQEs from the core's memory into the kernel and
 * completions back into the core's CQ. Sync helpers return a value >= 0 or a
 * negative Linux errno; they never throw for system errors.
 */
export interface Driver {
  /** The backend: `'io_uring'`, `'epoll'` or `'kqueue'`. */
  readonly name: string;
  /** What setup obtained: `single_issuer`, `defer_taskrun`, `multishot_accept`, `submit_all`,
   * `msg_ring` (cross-thread wakes go into io_uring targets' rings), ... */
  readonly features: readonly string[];
  /**
   * Takes every SQE between sq_head and sq_tail (checking each; a failed check
   * is completed with -EINVAL / -EBADF / -EFAULT in the core's CQ) and submits
   * them with one kernel call. Returns the number taken. If completions are
   * already available it schedules a turn; it never calls JS.
   */
  flush(): number;
  /**
   * Flush, wait up to `waitMs` (-1: forever, 0: not at all) for at least one
   * completion, reap into the core's CQ. Returns CQEs written. Never calls
   * `onTurn`; for tests and hosts without an event loop.
   */
  poll(waitMs: number): number;
  /**
   * Whether the driver's handles keep Node's loop alive. A new driver is
   * unref'd: the API refs it while ops or timers are in flight.
   */
  setRef(ref: boolean): void;
  /**
   * Arms the turn timer as if `onTurn` had returned `waitMs` (-1 none, 0 a turn
   * on the next loop iteration, > 0 milliseconds), for a wait that changed
   * outside a turn, e.g. a core timer started from plain JS. Never calls JS
   * itself; never postpones a turn already due.
   */
  arm(waitMs: number): void;
  counters(): DriverCounters;
  /**
   * Idempotent: stops the loop handles, tears the ring down (the kernel
   * cancels what is in flight; no CQE is written for it) and closes every fd
   * the driver still owns. Afterwards flush/poll return 0 and the helpers -EBADF.
   */
  close(): void;
  /** A non-blocking, close-on-exec socket: family 4 or 6 (IP) or 1 (Unix);
   * type 1 stream (default), 2 datagram, 5 seqpacket (Unix only). fd or -errno. */
  socket(family: 1 | 4 | 6, type?: 1 | 2 | 5): number;
  /** `[readFd, writeFd]`, both non-blocking, or -errno (for tests). */
  pipe(): [number, number] | number;
  /** `option` is a `SOCKOPT_*` of the layout; value 0 turns it off. 0 or -errno. */
  setOption(fd: number, option: number, value: number): number;
  /** What `setOption` set on an fd this driver owns: 0 or 1, or -errno. */
  getOption(fd: number, option: number): number;
  /** Binds to the staging address record (write it with `encodeAddress` first). 0 or -errno. */
  bind(fd: number): number;
  listen(fd: number, backlog: number): number;
  /**
   * Writes `ip` (IPv4, or IPv6 with optional `%scope`) and `port` into the
   * 32-byte record at `offset`, which must be the staging record or an op's
   * record. 0 or -EINVAL.
   */
  encodeAddress(ip: string, port: number, offset: number): number;
  localAddress(fd: number): HostAddress | number;
  peerAddress(fd: number): HostAddress | number;
  /** Synchronous close of an fd this driver owns (error paths). 0 or -errno (-EBADF if not owned). */
  closeFd(fd: number): number;
  /**
   * The driver's cross-thread waker, made once: an eventfd in the process-wide
   * registry, watched on this thread's loop (unref'd). Returns its token (> 0),
   * which any thread passes to `wake()`, or -errno (-EEXIST if made already).
   * `onWake` runs on this thread's loop through MakeCallback. An io_uring
   * driver with `msg_ring` also registers its ring: io_uring peers then wake
   * it with a CQE in that ring (kept from the core), and `onWake` runs once
   * after the turn that reaped it.
   */
  createWaker(onWake: () => void): number;
  /**
   * Wakes the runtime owning waker `token`, from this driver's thread: an
   * IORING_OP_MSG_RING on this driver's own ring when both are io_uring with
   * `msg_ring`, else a write to the target's eventfd (counted in
   * `counters()`). 0, or -ESRCH once that waker is gone.
   */
  wake(token: number): number;
  /** Stops owning `fd` without closing it and marks it "in hand-off" in the
   * process-wide fd record. 0 or -EBADF if not owned. */
  forgetFd(fd: number): number;
  /**
   * The clock the runtime reads (milliseconds, as `performance.now()`), for a
   * driver whose time is not the machine's: the simulation host's virtual
   * clock, which jumps to its next event. The native drivers have none: the
   * runtime then reads `performance.now()`.
   */
  now?(): number;
  /** Owns an open socket from elsewhere (made non-blocking, close-on-exec).
   * 0, -ENOTSOCK, -EBADF, -EEXIST (this driver owns it), -EBUSY (another
   * driver, on any thread, owns it and did not forget it for a hand-off) or
   * -EMFILE. */
  adoptFd(fd: number): number;
  /** Binds a Unix socket to `name` (a path, or a NUL then an abstract name;
   * the host checks its length and bytes: -EINVAL). With `unlinkStale`, a
   * socket file nobody listens on is unlinked first. 0 or -errno. */
  bindUnix(fd: number, name: Uint8Array, unlinkStale: boolean): number;
  /** Connects a Unix socket to `name` at once (-EAGAIN: the listener's backlog is full). 0 or -errno. */
  connectUnix(fd: number, name: Uint8Array): number;
  /** A Unix socket's own name (empty if unnamed), or -errno. */
  unixLocalName(fd: number): Uint8Array | number;
  /** A connected Unix socket's peer's name (often empty), or -errno. */
  unixPeerName(fd: number): Uint8Array | number;
  /** Joins (`join` true) or leaves a multicast group on an interface ('' : the
   * kernel's choice; IPv4: its address, IPv6: its name or index). 0 or -errno
   * (-EINVAL: not a multicast address, or an interface that does not parse). */
  membership(fd: number, group: string, iface: string, join: boolean): number;
  /** The address in the record at `offset` (the staging record or an op's), or
   * -errno (-EINVAL: not a record; -EAFNOSUPPORT: the record holds none). */
  recordAddress(offset: number): HostAddress | number;
  /** The Unix name op `id` (a SENDMSG with `SENDMSG_TO_NAME`, submitted and not yet
   * flushed) sends to; checked as `bindUnix` checks it. 0 or -errno. */
  stageName(id: number, name: Uint8Array): number;
  /** The Unix sender of op `id`'s RECVMSG, during its delivery (empty: unnamed), or -errno. */
  msgName(id: number): Uint8Array | number;
  /** The descriptors SENDMSG `id` (`MSG_FDS`, submitted and not yet flushed)
   * carries, each owned by this driver. 0 or -errno (-EBADF, -EINVAL: none or too many). */
  stageFds(id: number, fds: readonly number[]): number;
  /** The descriptors RECVMSG `id` received (now owned by this driver), during its delivery, or -errno. */
  msgFds(id: number): number[] | number;
  /** SO_PEERCRED of a connected Unix socket, or -errno. */
  peerCredentials(fd: number): PeerCredentials | number;
}

/** Who is at the other end of a Unix socket (SO_PEERCRED): the process that
 * connected or listened, as the kernel recorded it at connect time. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface DriverConstructor {
  /**
   * Throws an Error with code `ERR_PERCORE_LAYOUT_MISMATCH` if the header at
   * `header` is not a valid layout of this version (the message names both
   * versions), or with the errno name as code (`EPERM`, `ENOSYS`, `ENOMEM`,
   * ...) and a hint if the kernel queue cannot be set up.
   * `memory` must view a WebAssembly.Memory's buffer or a SharedArrayBuffer:
   * any other (detachable) ArrayBuffer is refused with
   * `ERR_PERCORE_MEMORY_DETACHABLE` (and left detached by the check). If the
   * buffer is detached later (a Memory grow), the driver closes itself and
   * `flush()`/`poll()` throw `ERR_PERCORE_MEMORY_DETACHED` once.
   */
  new (memory: Uint8Array, header: number, options: DriverOptions): Driver;
}

/** What a trial io_uring ring said about this kernel and process. */
export interface UringProbe {
  ok: boolean;
  /** -errno of the step that failed, 0 when ok. */
  errno: number;
  /** The errno's name (`EPERM`, `ENOSYS`, `ENOMEM`, `EOPNOTSUPP` for missing opcodes), or null. */
  code: string | null;
  /** A sentence saying what the failure likely means, or null. */
  reason: string | null;
  /** Required opcodes this kernel lacks (`SHUTDOWN`, ...), from IORING_REGISTER_PROBE. */
  missing: string[];
  /** IORING_REGISTER_PBUF_RING is accepted (5.19+). Without it `recv()` still runs on
   * io_uring: the host emulates buffer selection (POLL_ADD, then a plain recv). */
  pbufRing: boolean;
  /** Whether the kernel has IORING_OP_MSG_RING (5.18+). Optional: without it
   * io_uring still runs, and cross-thread wakes use an eventfd. */
  msgRing: boolean;
}

export interface AddonModule {
  /** The host's agreement table (host/layout.h), to compare with the core's and src/layout.ts. */
  readonly layoutTable: readonly number[];
  /** The driver classes this build has: `'uring'`, `'epoll'` on Linux; `'kqueue'` on macOS/BSD. */
  readonly drivers: readonly string[];
  /** Present on Linux. */
  readonly UringDriver: DriverConstructor;
  /** Present on Linux: readiness-based (epoll), the same contract as `UringDriver`. */
  readonly EpollDriver: DriverConstructor;
  /** Present on macOS and the BSDs. */
  readonly KqueueDriver?: DriverConstructor;
  /** Present on Linux: a trial ring (setup + IORING_REGISTER_PROBE), torn down at once. */
  readonly probeUring?: () => UringProbe;
  /** Pins the calling thread to `cpus` (sched_setaffinity). 0 or -errno. */
  setAffinity(cpus: readonly number[]): number;
  /** The CPUs the calling thread may run on, ascending, or -errno. */
  getAffinity(): number[] | number;
  /** Wakes the runtime owning waker `token`, from any thread, by its eventfd
   * (a runtime thread uses its driver's `wake`). 0, or -ESRCH once it is gone. */
  wake(token: number): number;
}

let cached: AddonModule | undefined;

/** Loads the addon once per module instance (works from `src/` and `dist/src/`). */
export function loadAddon(): AddonModule {
  if (cached === undefined) {
    const file = findAddon();
    try {
      cached = require(file) as AddonModule;
    } catch (cause) {
      throw addonLoadError(file, cause);
    }
  }
  return cached;
}
