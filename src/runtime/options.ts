// What a runtime is created with (every table sized here, once) and what it
// reports of itself.
import type { DriverOptions } from '../driver/addon';
import type { DriverName } from '../driver/select';
import { validateInteger } from '../errors/validate';

/** Options fixed when a runtime is created: every table is sized here, once. */
export interface RuntimeOptions {
  /** Capacity of the op table: operations and timers in flight at once. Default 4096. */
  entries?: number;
  /** Pool buffers in the runtime's arena. Default 2048. */
  buffers?: number;
  /** Bytes per pool buffer (a multiple of 64). Default 16384. */
  bufferSize?: number;
  /** Pool buffers set aside for `TcpStream.recv`: the kernel picks one of them
   * only when data arrives, so a connection waiting in `recv()` holds none.
   * `runtime.buffer()` never hands them out. 0 to 32768, at most `buffers`.
   * Default `min(256, floor(buffers / 4))`. */
  recvBuffers?: number;
  /** io_uring submission queue entries. Default 256. */
  ringEntries?: number;
  /** Deliveries per loop turn before yielding to the rest of Node's loop. Default 512. */
  budget?: number;
  /** Which driver to use: `'auto'` (io_uring, else the platform's readiness driver,
   * recording why in `driverReason`), `'uring'` (an error naming the reason if
   * io_uring cannot be had), `'epoll'` (Linux), `'kqueue'` (macOS/BSD) or `'sim'`
   * (the simulation host: a simulated host inside `simulate()`, else a simulated
   * machine at 127.0.0.1 in real time; docs/SIMULATION.md). Default: the
   * PERCORE_DRIVER environment variable, else `'auto'`. */
  driver?: DriverName;
  /** @internal Passed to the driver's constructor (io_uring only; others
   * ignore them): `pbufRing: false` runs `recv()` on the buffer-selection
   * emulation, `msgRing: false` keeps cross-thread wakes on the eventfd. */
  driverOptions?: Pick<DriverOptions, 'msgRing' | 'pbufRing'>;
}

/** What the runtime holds right now; a program that has finished its work and
 * released its buffers sees every field but the totals back at zero. */
export interface RuntimeCounters {
  /** Operations (timers included) that the program or the kernel still holds. */
  opsInFlight: number;
  /** Operations submitted since the runtime started. */
  submitted: number;
  /** Operations completed since the runtime started. */
  completed: number;
  /** `io_uring_enter` calls made by the driver. */
  ringEnters: number;
  /** Pool buffers lent to the kernel by operations in flight. */
  buffersLent: number;
  /** Pool buffers held by the program (from `runtime.buffer()`, or lent and not yet handed back;
   * a buffer `recv()` resolved with until it is released). */
  buffersHeld: number;
  /** Buffers of the recv set waiting in the kernel's pick set (see `RuntimeOptions.recvBuffers`):
   * neither lent nor held. Back at `recvBuffers` once the program released every `recv()` buffer. */
  buffersProvided: number;
  /** File descriptors the driver owns: sockets, listeners, accepted connections. */
  openFds: number;
  /** Timers armed in the core's wheel. */
  timers: number;
  /** Tasks started with `spawn` that have not finished. */
  tasks: number;
  /** Channel operations (`send` on a full channel, `recv` on an empty one) waiting on this runtime. */
  parked: number;
  /** Wake-ups this runtime sent to other runtimes as an io_uring MSG_RING (totals; see `wakePath`). */
  wakesMsgRing: number;
  /** Wake-ups this runtime sent to other runtimes through their eventfd. */
  wakesEventfd: number;
}

export const DEFAULTS = { entries: 4096, buffers: 2048, bufferSize: 16384, ringEntries: 256, budget: 512 };

/** One numeric option, its default filled in and its range checked. */
export function option(options: RuntimeOptions, name: keyof RuntimeOptions, min: number, max: number): number {
  const value = options[name] ?? DEFAULTS[name as keyof typeof DEFAULTS];
  validateInteger(value, `options.${name}`, min, max);
  return value as number;
}
