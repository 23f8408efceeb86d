/**
 * What the example servers (lines, resp, tls-proxy) share with the echo
 * example: its flags (`--host`, `--port`, `--threads`, `--pin`, `--driver`,
 * `--shutdown-timeout`, plus each example's own), its ready line
 * (`listening on HOST:PORT (driver=…, threads=N, pid=P)`), port 0 shared by
 * every thread, and graceful shutdown on SIGINT/SIGTERM.
 */
import * as os from 'node:os';
import { type PercoreError, type RuntimeOptions, start, type TcpListener, type ThreadContext } from '../src/index';

export interface ServerFlags {
  host: string;
  port: number;
  threads: number;
  pin: boolean;
  driver: 'auto' | 'uring' | 'epoll' | 'kqueue' | undefined;
  shutdownTimeout: number;
  /** Each example's own flags, by name (without the dashes). */
  extra: Record<string, string>;
}

/** An example's own flag: its name, whether it takes a value, and its usage line. */
export interface ExtraFlag {
  name: string;
  value: boolean;
  usage: string;
}

export function usageText(name: string, defaultPort: number, extra: ExtraFlag[]): string {
  return `usage: node dist/examples/${name}.js [options]
  --host HOST             address to listen on (default 127.0.0.1)
  --port PORT             port, 0 to pick one (default ${defaultPort})
  --threads N             runtimes, one per thread (default: available cores, here ${os.availableParallelism()})
  --pin                   pin thread i to the i-th CPU this process may use
  --driver NAME           auto | uring | epoll | kqueue (default: PERCORE_DRIVER, else auto)
  --shutdown-timeout MS   how long connections may finish after SIGINT/SIGTERM (default 5000)
${extra.map((f) => `  ${f.usage}\n`).join('')}  --help                  this text`;
}

export function parseServerFlags(
  name: string,
  argv: string[],
  defaultPort: number,
  extra: ExtraFlag[] = [],
): ServerFlags {
  const usage = usageText(name, defaultPort, extra);
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n${usage}\n`);
    process.exit(2);
  };
  const integer = (flag: string, text: string | undefined, min: number, max: number): number => {
    if (text === undefined || !/^\d+$/.test(text))
      fail(`--${flag} needs a whole number, got ${text === undefined ? 'nothing' : `'${text}'`}`);
    const value = Number(text);
    if (value < min || value > max) fail(`--${flag} must be between ${min} and ${max}, got ${value}`);
    return value;
  };
  const flags: ServerFlags = {
    host: '127.0.0.1',
    port: defaultPort,
    threads: os.availableParallelism(),
    pin: false,
    driver: undefined,
    shutdownTimeout: 5000,
    extra: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    const value = () => (eq >= 0 ? arg.slice(eq + 1) : argv[++i]);
    const own = extra.find((f) => f.name === flag);
    if (own !== undefined) {
      const v = own.value ? value() : 'true';
      if (v === undefined || v === '') fail(`--${flag} needs a value`);
      flags.extra[flag] = v as string;
      continue;
    }
    switch (flag) {
      case 'help':
        process.stdout.write(`${usage}\n`);
        return process.exit(0);
      case 'host': {
        const v = value();
        if (!v) fail('--host needs an address');
        flags.host = v as string;
        break;
      }
      case 'port':
        flags.port = integer('port', value(), 0, 65535);
        break;
      case 'threads':
        flags.threads = integer('threads', value(), 1, 1024);
        break;
      case 'pin':
        if (eq >= 0) fail('--pin takes no value');
        flags.pin = true;
        break;
      case 'shutdown-timeout':
        flags.shutdownTimeout = integer('shutdown-timeout', value(), 0, 2 ** 31 - 1);
        break;
      case 'driver': {
        const v = value();
        if (v !== 'auto' && v !== 'uring' && v !== 'epoll' && v !== 'kqueue')
          fail(`--driver must be auto, uring, epoll or kqueue, got '${v ?? ''}'`);
        flags.driver = v as ServerFlags['driver'];
        break;
      }
      default:
        fail(`unknown argument '${arg}'`);
    }
  }
  return flags;
}

/** What every thread gets (cloned; `portCell` is shared). */
export interface ServerData<T> {
  host: string;
  port: number;
  portCell: Int32Array;
  options: T;
}

/** Binds this thread's listener (port 0: thread 0 picks, the others join),
 * reports ready, and serves every connection with `serve` until the
 * launcher's signal; then waits for the connections to finish. */
export async function serveThread<T>(
  ctx: ThreadContext<ServerData<T>>,
  serve: (stream: import('../src/index').TcpStream) => Promise<void>,
): Promise<void> {
  const { TcpListener: Listener } = ctx.percore;
  const { host, portCell } = ctx.data;
  let port = ctx.data.port;
  if (port === 0 && ctx.threadIndex > 0) port = await sharedPort(portCell, ctx.signal);
  const listener: TcpListener = await Listener.bind({ host, port }, { runtime: ctx.runtime });
  if (ctx.threadIndex === 0 && port === 0) {
    Atomics.store(portCell, 0, listener.localAddress().port);
    Atomics.notify(portCell, 0);
  }
  let closed: Promise<void> | undefined;
  const stop = () => {
    closed = listener.close();
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });
  ctx.ready({ ...listener.localAddress(), driver: ctx.runtime.driver, driverReason: ctx.runtime.driverReason });
  const served = new Set<Promise<void>>();
  for await (const stream of listener) {
    const task = serve(stream).catch(() => {});
    served.add(task);
    void task.finally(() => served.delete(task));
  }
  await Promise.all(served);
  await closed;
}

async function sharedPort(cell: Int32Array, signal: AbortSignal): Promise<number> {
  while (Atomics.load(cell, 0) === 0) {
    if (signal.aborted) throw signal.reason;
    const wait = (
      Atomics as unknown as {
        waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<unknown> };
      }
    ).waitAsync(cell, 0, 0, 100);
    if (wait.async) await wait.value;
  }
  return Atomics.load(cell, 0);
}

/** Starts the launcher with `main` (a module path exporting `main`) and prints the ready line. */
export async function runServer<T>(
  name: string,
  flags: ServerFlags,
  main: string,
  options: T,
  runtime: Partial<RuntimeOptions> = {},
): Promise<void> {
  const portCell = new Int32Array(new SharedArrayBuffer(4));
  try {
    await start<ServerData<T>>(
      {
        ...runtime,
        threads: flags.threads,
        pin: flags.pin,
        driver: flags.driver,
        signals: true,
        shutdownTimeout: flags.shutdownTimeout,
        data: { host: flags.host, port: flags.port, portCell, options },
        onReady: (infos) => {
          const { address, port, driver, driverReason } = infos[0] as {
            address: string;
            port: number;
            driver: string;
            driverReason: string | null;
          };
          if (driverReason !== null) process.stderr.write(`${name}: using ${driver}: ${driverReason}\n`);
          process.stdout.write(
            `listening on ${address}:${port} (driver=${driver}, threads=${flags.threads}, pid=${process.pid})\n`,
          );
        },
      },
      main,
    );
  } catch (err) {
    const cause = (err as { cause?: PercoreError }).cause;
    if (cause?.syscall === 'bind' || cause?.syscall === 'listen') {
      process.stderr.write(`${name}: cannot listen on ${flags.host}:${flags.port}: ${cause.message}\n`);
    } else {
      process.stderr.write(`${name}: ${(err as Error).message}\n${cause?.stack ?? ''}\n`);
    }
    process.exit(1);
  }
  process.exit(0);
}
