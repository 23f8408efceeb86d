/**
 * The thread-per-core launcher: one runtime per thread, nothing shared.
 *
 * ## The model
 * `start(options, main)` runs `main` on `threads` threads: the calling thread
 * and `threads − 1` `worker_threads`. Each thread gets its own `Runtime` (its
 * own ring, its own Wasm core instance and memory, its own timer wheel), made
 * the thread's `Runtime.current()`, and optionally pinned to a CPU. Threads
 * share nothing unless the program hands them something: a port number, a
 * `Channel`, a SharedArrayBuffer, all through `options.data`. With
 * SO_REUSEPORT (on by default in `TcpListener.bind`) each thread binds its own
 * listener on the same port and the kernel spreads connections among them.
 *
 * `start` resolves with every thread's result once every `main` has finished
 * and every worker has exited. If a thread fails, it rejects with an Error
 * whose `code` is `ERR_PERCORE_THREAD_FAILED`, with `threadIndex` and `cause`;
 * by default (`onError: 'stop'`) the other threads are asked to stop first.
 *
 * Shutdown (a signal listed in `signals`, `stop()` on the returned promise, or
 * a failure): every thread's `ctx.signal` aborts; a program stops accepting
 * and lets its connections finish. Threads still running `shutdownTimeout` ms
 * later have their runtime closed under them (every operation in flight
 * rejects with `ERR_PERCORE_RUNTIME_CLOSED`, with its buffer), and a worker
 * that still has not finished one second after that is terminated.
 *
 * ```ts
 * import { start } from 'percore';
 * await start({ threads: 2, pin: true, signals: true }, async (ctx) => {
 *   const { TcpListener, copy } = ctx.percore;        // the API of this thread's module graph
 *   const listener = await TcpListener.bind('127.0.0.1:8080', { reusePort: true });
 *   ctx.signal.addEventListener('abort', () => listener.close());
 *   for await (const stream of listener) copy(stream, stream).finally(() => stream.close());
 * });
 * ```
 *
 * ## `main`
 * Either a module path (absolute, or relative to the current directory): each
 * thread `require`s it and calls its `main` export, or its default export, or
 * the module itself if it is a function. Or a function: it is sent to the
 * workers as source text and re-created there, so it must be self-contained:
 * no variables from the enclosing scope (pass data through `options.data`),
 * `require` resolves from percore's own directory, and code transformed by a
 * coverage tool will not run. Every thread, the calling one included, runs
 * the re-created function, so a mistake shows up at once rather than only on
 * the workers.
 *
 * Workers run percore's compiled JavaScript (`dist/`, built by `npm install`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { requestedDriver } from '../driver/select';
import { abortError, codedError, invalidArgType, invalidArgValue, type PercoreError } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import { type AddressInput, resolveAddress } from '../net/address';
import { type BindOptions, TcpListener } from '../net/tcp-listener';
import { packageRoot } from '../package/root';
import type { RuntimeOptions } from '../runtime/options';
import { Runtime } from '../runtime/runtime';
import { getAffinity, setAffinity } from './affinity';

/** Options of `start`. Runtime options are applied to every thread's runtime. */
export interface StartOptions<D = unknown> extends RuntimeOptions {
  /** Threads, the calling one included. 1..1024, default `os.availableParallelism()`. */
  threads?: number;
  /** `true`: thread i runs on the i-th CPU this process may use (wrapping).
   * An array: thread i runs on `pin[i % pin.length]`. Default false. Pinning
   * that the platform refuses is skipped (`ctx.cpu` is then null). */
  pin?: boolean | readonly number[];
  /** Milliseconds from shutdown until runtimes still running are closed. Default 5000. */
  shutdownTimeout?: number;
  /** `'stop'` (default): a failed thread shuts the others down. `'continue'`: they run on. */
  onError?: 'stop' | 'continue';
  /** Signals that start a graceful shutdown (`true`: SIGINT and SIGTERM). Default none. */
  signals?: boolean | readonly NodeJS.Signals[];
  /** Anything structured-cloneable, given to every thread as `ctx.data`
   * (SharedArrayBuffers and channel handles are shared, not copied). */
  data?: D;
  /** Called on the calling thread once every thread called `ctx.ready()`, with what each passed. */
  onReady?: (infos: unknown[]) => void;
}

/** What `main` gets on each thread. */
export interface ThreadContext<D = unknown> {
  /** 0 for the calling thread, 1..threads−1 for the workers. */
  readonly threadIndex: number;
  readonly threads: number;
  /** This thread's runtime (also `Runtime.current()` while `main` runs). */
  readonly runtime: Runtime;
  /** Aborts when shutdown starts: stop accepting, finish what is in flight. */
  readonly signal: AbortSignal;
  /** `options.data`, cloned for this thread. */
  readonly data: D;
  /** The CPU this thread is pinned to, or null. */
  readonly cpu: number | null;
  /** percore's API as loaded on this thread (all but `start`): the same module graph as `runtime`. */
  readonly percore: typeof import('../api');
  /** Tells the launcher this thread is ready (e.g. listening); `onReady` runs once all are. */
  ready(info?: unknown): void;
  /** Binds this thread's listener on a port every thread shares: SO_REUSEPORT
   * on, the kernel spreads connections among the threads. With port 0, thread
   * 0 binds first and the others join the port it got (they wait for it; one
   * such port per `start()`).
   * ```ts
   * await start({ threads: 2 }, async (ctx) => {
   *   const listener = await ctx.bind({ host: '127.0.0.1', port: 0 });   // one port, two listeners
   *   await listener.close();
   * });
   * ```
   * Rejects like `TcpListener.bind`, or with an `AbortError` if shutdown
   * starts while a thread waits for thread 0's port. */
  bind(address: AddressInput, options?: Omit<BindOptions, 'reusePort' | 'runtime'>): Promise<TcpListener>;
}

/** A thread's program. */
export type ThreadMain<D = unknown> = (ctx: ThreadContext<D>) => unknown;

/** The promise `start` returns: also lets the caller start the shutdown. */
export interface Launch extends Promise<unknown[]> {
  /** Starts the graceful shutdown, as a signal would. */
  stop(): void;
}

/** @internal what crosses to a worker in `workerData`. */
export interface ThreadInit {
  threadIndex: number;
  threads: number;
  runtime: RuntimeOptions;
  cpu: number | null;
  main: { kind: 'module'; path: string } | { kind: 'source'; text: string };
  data: unknown;
  /** Shared by every thread: the port thread 0's `ctx.bind` got for port 0 (0 until then). */
  portCell: Int32Array;
}

/** @internal messages between a worker and the launcher. */
export type ToLauncher =
  | { type: 'ready'; info: unknown }
  | { type: 'done'; value: unknown }
  | { type: 'failed'; error: SerializedError };
export type ToThread = { type: 'stop' } | { type: 'force' };

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  props: Record<string, unknown>;
}

const FORCE_GRACE_MS = 1000;

/** Runs `main` on `options.threads` threads, one runtime each. See the module
 * comment. Bad arguments reject (before any thread starts), like every
 * percore call that returns a promise.
 * ```ts
 * const results = await start({ threads: 2 }, (ctx) => ctx.threadIndex * 10);   // [0, 10]
 * ```
 */
export function start<D = unknown>(options: StartOptions<D>, main: string | ThreadMain<D>): Launch {
  let stop: () => void = () => {};
  const promise = new Promise<unknown[]>((resolve, reject) => {
    const launch = launchThreads(options, main);
    stop = launch.stop;
    launch.done.then(resolve, reject);
  }) as Launch;
  promise.stop = () => stop();
  return promise;
}

function launchThreads<D>(
  options: StartOptions<D>,
  main: string | ThreadMain<D>,
): { done: Promise<unknown[]>; stop: () => void } {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const threads = options.threads ?? os.availableParallelism();
  validateInteger(threads, 'options.threads', 1, 1024);
  const shutdownTimeout = options.shutdownTimeout ?? 5000;
  validateInteger(shutdownTimeout, 'options.shutdownTimeout', 0, 2 ** 31 - 1);
  const onError = options.onError ?? 'stop';
  if (onError !== 'stop' && onError !== 'continue')
    throw invalidArgValue('options.onError', onError, "must be 'stop' or 'continue'");
  const signals = options.signals === true ? (['SIGINT', 'SIGTERM'] as NodeJS.Signals[]) : options.signals || [];
  const spec = mainSpec(main);
  const cpus = pinList(options.pin);
  const runtimeOptions: RuntimeOptions = {};
  for (const key of ['entries', 'buffers', 'bufferSize', 'recvBuffers', 'ringEntries', 'budget', 'driver'] as const) {
    if (options[key] !== undefined) (runtimeOptions as Record<string, unknown>)[key] = options[key];
  }
  // Resolved here, with this thread's PERCORE_DRIVER, and handed to every
  // thread: a worker's environment is not always this thread's (a test
  // sandbox, or a program that changed process.env after start), and all
  // threads must run the driver the caller asked for.
  runtimeOptions.driver = requestedDriver(options.driver);
  // Checked here, once, so a bad option fails the call rather than every thread.
  const previous = Runtime.peekCurrent();
  new Runtime(runtimeOptions).close();
  if (previous !== undefined) Runtime.setCurrent(previous);
  const entry = threads > 1 ? threadEntry() : '';

  const outcomes: Promise<Outcome>[] = [];
  const workers: (Worker | undefined)[] = [undefined];
  const readyInfos: unknown[] = new Array(threads);
  let readyCount = 0;
  let stopping = false;
  let forceTimer: NodeJS.Timeout | undefined;
  let terminateTimer: NodeJS.Timeout | undefined;
  const local = new AbortController();
  let forceLocal: () => void = () => {};

  const markReady = (index: number, info: unknown): void => {
    if (readyInfos[index] !== undefined || stopping) return;
    readyInfos[index] = { info };
    if (++readyCount === threads) options.onReady?.(readyInfos.map((r) => (r as { info: unknown }).info));
  };

  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    local.abort(codedError('ERR_PERCORE_SHUTDOWN', 'percore is shutting down'));
    for (const w of workers) w?.postMessage({ type: 'stop' } satisfies ToThread);
    forceTimer = setTimeout(() => {
      forceLocal();
      for (const w of workers) w?.postMessage({ type: 'force' } satisfies ToThread);
      terminateTimer = setTimeout(() => {
        for (const w of workers) void w?.terminate();
      }, FORCE_GRACE_MS);
      terminateTimer.unref();
    }, shutdownTimeout);
    // The timers only bound a shutdown already in progress: the threads keep the loop alive.
    forceTimer.unref();
  };
  const onSignal = (): void => shutdown();
  for (const s of signals) process.on(s, onSignal);

  const failed = (_index: number, outcome: Outcome): Outcome => {
    if (!outcome.ok && onError === 'stop') shutdown();
    return outcome;
  };

  const portCell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 1; i < threads; i++) {
    const init: ThreadInit = {
      threadIndex: i,
      threads,
      runtime: runtimeOptions,
      cpu: cpuFor(cpus, i),
      main: spec,
      data: options.data,
      portCell,
    };
    const worker = new Worker(entry, { workerData: init });
    workers.push(worker);
    outcomes.push(
      new Promise<Outcome>((resolve) => {
        let outcome: Outcome | undefined;
        worker.on('message', (msg: ToLauncher) => {
          if (msg.type === 'ready') markReady(i, msg.info);
          else if (msg.type === 'done') outcome = { ok: true, value: msg.value };
          else if (msg.type === 'failed') outcome = failed(i, { ok: false, error: deserializeError(msg.error) });
        });
        worker.on('error', (err) => {
          outcome ??= failed(i, { ok: false, error: err });
        });
        worker.on('exit', (code) => {
          workers[i] = undefined;
          resolve(
            outcome ??
              failed(i, {
                ok: false,
                error: codedError(
                  'ERR_PERCORE_THREAD_EXITED',
                  `the worker exited (code ${code}) before its main finished`,
                ),
              }),
          );
        });
      }),
    );
  }

  const init0: ThreadInit = {
    threadIndex: 0,
    threads,
    runtime: runtimeOptions,
    cpu: cpuFor(cpus, 0),
    main: spec,
    data: options.data,
    portCell,
  };
  const savedAffinity = init0.cpu !== null ? getAffinity() : [];
  outcomes.unshift(
    runThread(init0, {
      ready: (info) => markReady(0, info),
      signal: local.signal,
      onForce: (force) => {
        forceLocal = force;
      },
    }).then(
      (value): Outcome => ({ ok: true, value }),
      (error): Outcome => failed(0, { ok: false, error }),
    ),
  );

  const done = Promise.all(outcomes).then((results) => {
    clearTimeout(forceTimer);
    clearTimeout(terminateTimer);
    for (const s of signals) process.off(s, onSignal);
    if (savedAffinity.length > 0) setAffinity(savedAffinity);
    const errors = results.map((r, i) => (r.ok ? undefined : threadFailed(i, r.error)));
    const first = errors.find((e) => e !== undefined);
    if (first !== undefined) {
      first.errors = errors.filter((e): e is ThreadError => e !== undefined);
      throw first;
    }
    return results.map((r) => (r as { value: unknown }).value);
  });
  return { done, stop: shutdown };
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The error `start` rejects with. */
export interface ThreadError extends PercoreError {
  threadIndex: number;
  /** Every thread that failed, this one first. */
  errors?: ThreadError[];
}

function threadFailed(index: number, cause: unknown): ThreadError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const err = codedError('ERR_PERCORE_THREAD_FAILED', `thread ${index} failed: ${message}`) as ThreadError;
  err.threadIndex = index;
  (err as Error).cause = cause;
  return err;
}

/** @internal Runs one thread's `main` with its own runtime; shared by the
 * calling thread and the workers (src/threads/worker.ts). */
export async function runThread(
  init: ThreadInit,
  hooks: { ready(info: unknown): void; signal: AbortSignal; onForce(force: () => void): void },
): Promise<unknown> {
  const cpu = init.cpu !== null && setAffinity([init.cpu]) ? init.cpu : null;
  const runtime = new Runtime(init.runtime);
  const previous = Runtime.peekCurrent();
  Runtime.setCurrent(runtime);
  hooks.onForce(() => runtime.close());
  try {
    const fn = loadMain(init.main);
    const percore = require('../api') as typeof import('../api');
    let readied = false;
    const ctx: ThreadContext = {
      threadIndex: init.threadIndex,
      threads: init.threads,
      runtime,
      signal: hooks.signal,
      data: init.data,
      cpu,
      percore,
      ready: (info?: unknown) => {
        if (!readied) {
          readied = true;
          hooks.ready(info);
        }
      },
      bind: (address, options) => bindShared(init, runtime, hooks.signal, address, options),
    };
    return await fn(ctx);
  } finally {
    // Cancels whatever the program left in flight and closes its fds.
    runtime.close();
    if (previous !== undefined) Runtime.setCurrent(previous);
  }
}

/** `ctx.bind`: a SO_REUSEPORT listener on the port every thread shares. */
async function bindShared(
  init: ThreadInit,
  runtime: Runtime,
  signal: AbortSignal,
  address: AddressInput,
  options: Omit<BindOptions, 'reusePort' | 'runtime'> = {},
): Promise<TcpListener> {
  const { ip, port } = await resolveAddress(address);
  const cell = init.portCell;
  let shared = port;
  if (port === 0 && init.threadIndex > 0) shared = await portOfThread0(cell, signal);
  const listener = await TcpListener.bind({ host: ip, port: shared }, { ...options, reusePort: true, runtime });
  if (port === 0 && init.threadIndex === 0) {
    Atomics.store(cell, 0, listener.localAddress().port);
    Atomics.notify(cell, 0);
  }
  return listener;
}

/** Waits (without blocking the loop) until thread 0 published its port. */
async function portOfThread0(cell: Int32Array, signal: AbortSignal): Promise<number> {
  while (Atomics.load(cell, 0) === 0) {
    if (signal.aborted) throw abortError(signal.reason);
    // Atomics.waitAsync is in Node 16+, in TypeScript's lib only from es2024.
    const wait = (
      Atomics as unknown as {
        waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<unknown> };
      }
    ).waitAsync(cell, 0, 0, 100);
    if (wait.async) await wait.value;
  }
  return Atomics.load(cell, 0);
}

function loadMain(spec: ThreadInit['main']): ThreadMain {
  if (spec.kind === 'source') {
    // The function's source text, re-created on this thread: the documented
    // contract of a self-contained `main` (it sees only `require` and ctx).
    const fn = new Function('require', `return (${spec.text});`)(require) as unknown;
    if (typeof fn !== 'function') throw invalidArgValue('main', spec.text.slice(0, 40), 'is not a function expression');
    return fn as ThreadMain;
  }
  const mod = require(spec.path) as Record<string, unknown> | ((ctx: ThreadContext) => unknown);
  const fn = typeof mod === 'function' ? mod : (mod.main ?? mod.default);
  if (typeof fn !== 'function') {
    throw codedError(
      'ERR_INVALID_ARG_VALUE',
      `the module ${spec.path} exports no main function (export main, or a default function)`,
      TypeError,
    );
  }
  return fn as ThreadMain;
}

function mainSpec(main: unknown): ThreadInit['main'] {
  if (typeof main === 'string') {
    const file = path.resolve(main);
    try {
      return { kind: 'module', path: require.resolve(file) };
    } catch {
      throw invalidArgValue('main', main, 'is not a module percore can load');
    }
  }
  if (typeof main !== 'function') throw invalidArgType('main', 'a module path or a function', main);
  const text = main.toString();
  // A method (`main(ctx) { … }`) or a native function cannot be re-created from its text.
  if (!/^(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(text) || /\{\s*\[native code\]\s*\}$/.test(text)) {
    throw invalidArgValue(
      'main',
      main,
      'must be a function or arrow function expression (it is re-created from its source text)',
    );
  }
  return { kind: 'source', text };
}

function pinList(pin: StartOptions['pin']): number[] | null {
  if (pin === undefined || pin === false) return null;
  if (pin === true) {
    const cpus = getAffinity();
    return cpus.length > 0 ? cpus : null;
  }
  if (!Array.isArray(pin) || pin.length === 0 || !pin.every((c) => Number.isInteger(c) && c >= 0 && c < 1024)) {
    throw invalidArgType('options.pin', 'a boolean or a non-empty array of CPU numbers', pin);
  }
  return [...pin];
}

function cpuFor(cpus: number[] | null, index: number): number | null {
  return cpus === null ? null : cpus[index % cpus.length];
}

/** The worker entry: dist/src/threads/worker.js next to this file when running compiled,
 * or the package's build when this file runs from source (ts-jest). */
function threadEntry(): string {
  const here = path.join(__dirname, 'worker.js');
  if (__filename.endsWith('.js') && fs.existsSync(here)) return here;
  const built = path.join(packageRoot(), 'dist', 'src', 'threads', 'worker.js');
  if (!fs.existsSync(built)) {
    throw codedError('ERR_PERCORE_NOT_BUILT', `percore's worker entry ${built} is missing: run npm run build:ts`);
  }
  return built;
}

/** @internal */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), props: {} };
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) props[key] = value;
  }
  return { name: err.name, message: err.message, stack: err.stack, code: (err as PercoreError).code, props };
}

function deserializeError(s: SerializedError): Error {
  const err = new Error(s.message);
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  Object.assign(err, s.props);
  return err;
}
