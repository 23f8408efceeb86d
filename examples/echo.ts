/**
 * The echo server: one runtime per thread (the thread-per-core launcher),
 * each with its own SO_REUSEPORT listener on the same port (`ctx.bind`); per thread an
 * accept loop, one task per connection, read → writeAll with one pool buffer
 * per connection (lent to the kernel with no copy).
 *
 *   npm start -- --port 50002 --threads 2 --pin --buffer-size 8192
 *
 * Prints one line once every thread listens, e.g.
 *   listening on 127.0.0.1:50002 (driver=io_uring, threads=2, pid=12345)
 * SIGINT or SIGTERM: every thread stops accepting; connections may finish
 * for up to --shutdown-timeout ms, then are closed; the process exits 0.
 */
import * as os from 'node:os';
import {
  type copy,
  type PercoreError,
  type Runtime,
  start,
  type TcpListener,
  type TcpStream,
  type ThreadContext,
} from '../src/index';

const USAGE = `usage: npm start -- [options]
  --host HOST             address to listen on (default 127.0.0.1)
  --port PORT             port, 0 to pick one (default 50002)
  --threads N             runtimes, one per thread (default: available cores, here ${os.availableParallelism()})
  --pin                   pin thread i to the i-th CPU this process may use
  --driver NAME           auto | uring | epoll | kqueue (default: PERCORE_DRIVER, else auto)
  --buffer-size BYTES     bytes per connection buffer, a multiple of 64 (default 8192)
  --buffers N             pool buffers per thread: connections each thread serves at once (default 16384)
  --io read|recv|copy     read: each connection holds a pool buffer for its life; recv: it holds one
                          only while echoing data (TcpStream.recv), so idle connections hold none;
                          copy: copy(stream, stream), the runtime relays with no JavaScript per
                          message, holding a buffer only while echoing data, as recv (default read)
  --shutdown-timeout MS   how long connections may finish after SIGINT/SIGTERM (default 5000)
  --help                  this text`;

type Io = 'read' | 'recv' | 'copy';

interface Flags {
  host: string;
  port: number;
  threads: number;
  pin: boolean;
  driver: 'auto' | 'uring' | 'epoll' | 'kqueue' | undefined;
  bufferSize: number;
  buffers: number;
  shutdownTimeout: number;
  io: Io;
}

function usageError(message: string): never {
  process.stderr.write(`echo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function integer(name: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text))
    usageError(`--${name} needs a whole number, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  const value = Number(text);
  if (value < min || value > max) usageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    host: '127.0.0.1',
    port: 50002,
    threads: os.availableParallelism(),
    pin: false,
    driver: undefined,
    bufferSize: 8192,
    buffers: 16384,
    shutdownTimeout: 5000,
    io: 'read',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    const value = () => (eq >= 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (name) {
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return process.exit(0);
      case 'host': {
        const v = value();
        if (!v) usageError('--host needs an address');
        flags.host = v;
        break;
      }
      case 'port':
        flags.port = integer('port', value(), 0, 65535);
        break;
      case 'threads':
        flags.threads = integer('threads', value(), 1, 1024);
        break;
      case 'pin':
        if (eq >= 0) usageError('--pin takes no value');
        flags.pin = true;
        break;
      case 'shutdown-timeout':
        flags.shutdownTimeout = integer('shutdown-timeout', value(), 0, 2 ** 31 - 1);
        break;
      case 'driver': {
        const v = value();
        if (v !== 'auto' && v !== 'uring' && v !== 'epoll' && v !== 'kqueue')
          usageError(`--driver must be auto, uring, epoll or kqueue, got '${v ?? ''}'`);
        flags.driver = v;
        break;
      }
      case 'buffers':
        flags.buffers = integer('buffers', value(), 1, 1 << 20);
        break;
      case 'io': {
        const v = value();
        if (v !== 'read' && v !== 'recv' && v !== 'copy')
          usageError(`--io must be read, recv or copy, got '${v ?? ''}'`);
        flags.io = v;
        break;
      }
      case 'buffer-size':
        flags.bufferSize = integer('buffer-size', value(), 64, 16 << 20);
        if (flags.bufferSize % 64 !== 0) usageError(`--buffer-size must be a multiple of 64, got ${flags.bufferSize}`);
        break;
      default:
        usageError(`unknown argument '${arg}'`);
    }
  }
  return flags;
}

const QUIET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ERR_SOCKET_CLOSED', 'ERR_PERCORE_RUNTIME_CLOSED']);

async function serve(rt: Runtime, stream: TcpStream, connections: Set<TcpStream>): Promise<void> {
  let buf: Uint8Array;
  try {
    // Waits while every pool buffer is held by a connection (back-pressure):
    // this connection is served as soon as another one ends.
    buf = await rt.acquireBuffer();
  } catch {
    // The runtime closed while it waited (shutdown).
    connections.delete(stream);
    await stream.close();
    return;
  }
  try {
    for (;;) {
      const [n] = await stream.read(buf);
      if (n === 0) break;
      await stream.writeAll(buf, n); // the first n bytes, with no view made per write
    }
  } catch (err) {
    if (!QUIET_ERRORS.has((err as PercoreError).code))
      process.stderr.write(`echo: connection: ${(err as Error).message}\n`);
  } finally {
    connections.delete(stream);
    rt.release(buf);
    await stream.close();
  }
}

/** `--io recv`: a buffer of the recv set is held only from the moment data
 * arrives until it has been written back, so an idle connection holds none
 * (one whose data arrives faster than it is echoed holds up to RECV_AHEAD
 * more, received ahead by the stream's multishot receive). */
async function serveRecv(rt: Runtime, stream: TcpStream, connections: Set<TcpStream>): Promise<void> {
  try {
    for (;;) {
      const buf = await stream.recv();
      if (!buf) break;
      try {
        await stream.writeAll(buf);
      } finally {
        rt.release(buf);
      }
    }
  } catch (err) {
    if (!QUIET_ERRORS.has((err as PercoreError).code))
      process.stderr.write(`echo: connection: ${(err as Error).message}\n`);
  } finally {
    connections.delete(stream);
    await stream.close();
  }
}

/** `--io copy`: the runtime relays the stream into itself (`copy()`): each
 * message is received and sent back from inside the loop turn that saw it
 * arrive, with no promise per message. Each receive takes a buffer of the
 * recv set when data arrives and the send gives it back, so an idle
 * connection holds none. */
async function serveCopy(relay: typeof copy, stream: TcpStream, connections: Set<TcpStream>): Promise<void> {
  try {
    await relay(stream, stream);
  } catch (err) {
    if (!QUIET_ERRORS.has((err as PercoreError).code))
      process.stderr.write(`echo: connection: ${(err as Error).message}\n`);
  } finally {
    connections.delete(stream);
    await stream.close();
  }
}

/** What every thread gets from the process's main. */
interface EchoData {
  host: string;
  port: number;
  io: Io;
}

/** One thread of the server, run by the launcher on every thread. With more
 * than one thread, `ctx.bind` gives each its own SO_REUSEPORT listener on the
 * same port (with port 0, the one thread 0 got); with one thread the listener
 * does not share its port, so a port already taken is EADDRINUSE. */
export async function main(ctx: ThreadContext<EchoData>): Promise<void> {
  const { TcpListener: Listener, copy } = ctx.percore; // this thread's module graph
  const rt = ctx.runtime;
  const { host, port } = ctx.data;
  const listener: TcpListener =
    ctx.threads > 1 ? await ctx.bind({ host, port }) : await Listener.bind({ host, port }, { runtime: rt });
  const connections = new Set<TcpStream>();
  const served = new Set<Promise<void>>();
  let closed: Promise<void> | undefined;
  const stop = () => {
    closed = listener.close();
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });
  ctx.ready({ ...listener.localAddress(), driver: rt.driver, driverReason: rt.driverReason });
  for await (const stream of listener) {
    stream.setNoDelay(true); // an echo answers at once: Nagle would hold small replies back
    connections.add(stream);
    const task =
      ctx.data.io === 'copy'
        ? serveCopy(copy, stream, connections)
        : (ctx.data.io === 'recv' ? serveRecv : serve)(rt, stream, connections);
    served.add(task);
    void task.finally(() => served.delete(task));
  }
  // The listener is closed: connections finish on their own, or are closed
  // when the launcher closes this runtime at the shutdown deadline.
  await Promise.all(served);
  await closed;
}

async function run(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  try {
    await start<EchoData>(
      {
        threads: flags.threads,
        pin: flags.pin,
        driver: flags.driver,
        bufferSize: flags.bufferSize,
        // One buffer per connection being served; an op slot for its read or
        // write, plus room for accepts and closes (the core's table is capped).
        buffers: flags.buffers,
        // recv: half the pool is the recv set (as many buffers as connections
        // receive at once), the rest stays for the read path's needs.
        // copy: a recv set too, from which a relay takes a buffer only from the
        // moment data arrives until it is sent back. The kernel's ring hands
        // buffers out in FIFO order, so every buffer of the set cycles through
        // the cache: 1024 is enough for 1024 connections sending at once (more
        // wait for a buffer, losing nothing) and small enough to stay warm;
        // 8192 cost 17% more CPU at 1024 x 16 KiB (docs/PERFORMANCE.md).
        recvBuffers:
          flags.io === 'recv'
            ? Math.min(32768, Math.floor(flags.buffers / 2))
            : flags.io === 'copy'
              ? Math.min(1024, Math.floor(flags.buffers / 2))
              : 0,
        entries: Math.min(32768, flags.buffers * 2 + 64),
        signals: true,
        shutdownTimeout: flags.shutdownTimeout,
        data: { host: flags.host, port: flags.port, io: flags.io },
        onReady: (infos) => {
          const { address, port, driver, driverReason } = infos[0] as {
            address: string;
            port: number;
            driver: string;
            driverReason: string | null;
          };
          // Once, on fallback: which driver runs instead of io_uring, and why.
          if (driverReason !== null) process.stderr.write(`echo: using ${driver}: ${driverReason}\n`);
          process.stdout.write(
            `listening on ${address}:${port} (driver=${driver}, threads=${flags.threads}, pid=${process.pid})\n`,
          );
        },
      },
      __filename,
    );
  } catch (err) {
    const cause = (err as { cause?: PercoreError }).cause;
    // A forced io_uring that cannot be had: thread 0's runtime fails before any
    // thread starts (the error itself), a worker's as the thread's cause.
    const driverFailure = [err as PercoreError, cause].find(isDriverFailure);
    if (driverFailure !== undefined) {
      process.stderr.write(
        `echo: cannot start the ${flags.driver ?? process.env.PERCORE_DRIVER ?? 'auto'} driver: ${driverFailure.message}\n`,
      );
    } else if (cause?.syscall === 'bind' || cause?.syscall === 'listen') {
      process.stderr.write(`echo: cannot listen on ${flags.host}:${flags.port}: ${cause.message}\n`);
    } else {
      process.stderr.write(`echo: ${(err as Error).message}\n${cause?.stack ?? ''}\n`);
    }
    process.exit(1);
  }
  process.exit(0);
}

/** Whether a thread failed because a forced io_uring driver could not be set up. */
function isDriverFailure(cause: PercoreError | undefined): boolean {
  return cause?.syscall === 'io_uring_setup';
}

if (require.main === module) {
  run().catch((err) => {
    process.stderr.write(`echo: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
