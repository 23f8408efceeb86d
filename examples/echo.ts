/**
 * The echo server: accept loop, one task per connection, read → writeAll with
 * one pool buffer per connection (lent to the kernel with no copy).
 *
 *   npm start -- --port 50002 --buffer-size 8192
 *
 * Prints one line when ready, e.g.
 *   listening on 127.0.0.1:50002 (driver=io_uring, threads=1, pid=12345)
 * SIGINT or SIGTERM: stop accepting, close every connection, exit 0.
 */
import { Runtime, TcpListener, TcpStream, PercoreError } from '../src/index';

const USAGE = `usage: npm start -- [options]
  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port, 0 to pick one (default 50002)
  --threads N          runtimes, one per thread (default 1; only 1 until the thread-per-core launcher lands)
  --driver NAME        auto | uring | epoll | kqueue (default: PERCORE_DRIVER, else auto)
  --buffer-size BYTES  bytes per connection buffer, a multiple of 64 (default 8192)
  --help               this text`;

interface Flags { host: string; port: number; threads: number; driver: 'auto' | 'uring' | 'epoll' | 'kqueue' | undefined; bufferSize: number }

function usageError(message: string): never {
  process.stderr.write(`echo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function integer(name: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) usageError(`--${name} needs a whole number, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  const value = Number(text);
  if (value < min || value > max) usageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function parseFlags(argv: string[]): Flags {
  const flags: Flags = { host: '127.0.0.1', port: 50002, threads: 1, driver: undefined, bufferSize: 8192 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    const value = () => (eq >= 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (name) {
      case 'help': process.stdout.write(`${USAGE}\n`); process.exit(0);
      case 'host': { const v = value(); if (!v) usageError('--host needs an address'); flags.host = v; break; }
      case 'port': flags.port = integer('port', value(), 0, 65535); break;
      case 'threads':
        flags.threads = integer('threads', value(), 1, 1024);
        if (flags.threads !== 1) usageError(`--threads ${flags.threads}: only 1 thread is supported until the thread-per-core launcher lands`);
        break;
      case 'driver': {
        const v = value();
        if (v !== 'auto' && v !== 'uring' && v !== 'epoll' && v !== 'kqueue') usageError(`--driver must be auto, uring, epoll or kqueue, got '${v ?? ''}'`);
        flags.driver = v;
        break;
      }
      case 'buffer-size':
        flags.bufferSize = integer('buffer-size', value(), 64, 16 << 20);
        if (flags.bufferSize % 64 !== 0) usageError(`--buffer-size must be a multiple of 64, got ${flags.bufferSize}`);
        break;
      default: usageError(`unknown argument '${arg}'`);
    }
  }
  return flags;
}

const QUIET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ERR_SOCKET_CLOSED', 'ERR_PERCORE_RUNTIME_CLOSED']);

async function serve(rt: Runtime, stream: TcpStream, connections: Set<TcpStream>): Promise<void> {
  const buf = rt.buffer();
  try {
    for (;;) {
      const [n] = await stream.read(buf);
      if (n === 0) break;
      await stream.writeAll(buf.subarray(0, n));
    }
  } catch (err) {
    if (!QUIET_ERRORS.has((err as PercoreError).code)) process.stderr.write(`echo: connection: ${(err as Error).message}\n`);
  } finally {
    connections.delete(stream);
    rt.release(buf);
    await stream.close();
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  // Connections each hold one buffer; the pool has room for many more than the
  // default 1,000-connection load.
  let rt: Runtime;
  try {
    rt = new Runtime({ driver: flags.driver, bufferSize: flags.bufferSize, buffers: 8192, entries: 16384 });
  } catch (err) {
    // A forced driver that cannot be had (io_uring refused, kqueue on Linux).
    process.stderr.write(`echo: cannot start the ${flags.driver ?? process.env.PERCORE_DRIVER ?? 'auto'} driver: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (rt.driverReason !== null) process.stderr.write(`echo: using ${rt.driver}: ${rt.driverReason}\n`);
  Runtime.setCurrent(rt);
  let listener: TcpListener;
  try {
    listener = await TcpListener.bind({ host: flags.host, port: flags.port }, { runtime: rt });
  } catch (err) {
    process.stderr.write(`echo: cannot listen on ${flags.host}:${flags.port}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const connections = new Set<TcpStream>();
  const stop = async () => {
    await listener.close();
    await Promise.all([...connections].map((c) => c.close()));
    rt.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const { address, port } = listener.localAddress();
  process.stdout.write(`listening on ${address}:${port} (driver=${rt.driver}, threads=${flags.threads}, pid=${process.pid})\n`);
  for await (const stream of listener) {
    stream.setNoDelay(true); // an echo answers at once: Nagle would hold small replies back
    connections.add(stream);
    void serve(rt, stream, connections);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`echo: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
