/**
 * Tasks and time: `spawn`, `sleep`, `timeout`.
 *
 * ## The model
 * A task is an async function the runtime keeps count of, with an
 * `AbortSignal` to stop it. `timeout(ms, promise)` is aware of percore
 * operations: when time runs out on a read, the read itself is cancelled in
 * the kernel and its buffer comes back on the error, and if the bytes had
 * already arrived the read wins and nothing is lost.
 *
 * ```ts
 * import { spawn, sleep, timeout } from 'percore';
 * const task = spawn(async (signal) => { await sleep(10, { signal }); return 42; });
 * console.log(await task);                       // 42
 * await timeout(50, stream.read(buf)).catch((err) => err.code);  // 'ETIMEDOUT' if nothing came
 * ```
 */
import { abortError, invalidArgType, type PercoreError, timeoutError } from '../errors/errors';
import { validateMs } from '../errors/validate';
import { type Cancellable, kCancel } from './cancel';
import { Runtime } from './runtime';

/** A spawned task: await it (it is a promise of the function's result) or abort it. */
export class Task<T> implements PromiseLike<T> {
  private readonly controller = new AbortController();
  private readonly promise: Promise<T>;

  /** @internal */
  constructor(rt: Runtime, fn: (signal: AbortSignal) => T | PromiseLike<T>) {
    rt.tasks++;
    let finished = false;
    const finish = () => {
      if (!finished) {
        finished = true;
        rt.tasks--;
      }
    };
    this.promise = Promise.resolve()
      .then(() => fn(this.controller.signal))
      .finally(finish);
  }

  /** The signal passed to the task's function: aborted by `abort()`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Asks the task to stop: its signal aborts, and operations it started with
   * that signal are cancelled and hand their buffers back. */
  abort(reason?: unknown): void {
    this.controller.abort(reason ?? abortError(undefined));
  }

  // A Task is awaitable like the promise it wraps: `then` is the point.
  // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.promise.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.promise.catch(onRejected);
  }
}

/** Runs `fn` as a task on the current runtime.
 * ```ts
 * const task = spawn(async (signal) => serveConnection(stream, signal));
 * task.abort();
 * ```
 */
export function spawn<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, runtime = Runtime.current()): Task<T> {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
  return new Task(runtime, fn);
}

/** Sleeps `ms` milliseconds on the current runtime's timer wheel. */
export function sleep(ms: number, options?: { signal?: AbortSignal; runtime?: Runtime }): Promise<void> {
  return (options?.runtime ?? Runtime.current()).sleep(ms, options);
}

/** Settles like `promise`, unless `ms` pass first. Then a percore operation is
 * cancelled and rejects with a `TimeoutError` (`code: 'ETIMEDOUT'`, and its
 * buffer in `err.buffer`) — or resolves, if its result won the race, so no
 * data is lost. Any other promise is left running and `timeout` rejects with
 * the `TimeoutError` at once. Its timer is a `sleep`: when the op table is
 * full it waits for a slot like any operation, with the deadline counted
 * from the call.
 * ```ts
 * const [n, filled] = await timeout(1000, stream.read(buf));   // or ETIMEDOUT, with err.buffer
 * ```
 */
export function timeout<T>(ms: number, promise: PromiseLike<T>, options?: { runtime?: Runtime }): Promise<T> {
  let rt: Runtime;
  try {
    validateMs(ms, 'ms');
    if (promise === null || typeof (promise as PromiseLike<T>)?.then !== 'function') {
      throw invalidArgType('promise', 'a Promise', promise);
    }
    rt = options?.runtime ?? Runtime.current();
  } catch (err) {
    return Promise.reject(err);
  }
  const op = (promise as Cancellable)[kCancel];
  const timer = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    rt.sleep(ms, { signal: timer.signal }).then(
      () => {
        timedOut = true;
        const err: PercoreError = timeoutError(ms);
        if (op !== undefined)
          op.cancel(err); // the operation settles: with its result or with err
        else reject(err);
      },
      () => {
        /* the promise settled first and cancelled the timer */
      },
    );
    promise.then(
      (value) => {
        if (!timedOut) timer.abort();
        resolve(value);
      },
      (err) => {
        if (!timedOut) timer.abort();
        reject(err);
      },
    );
  });
}
