/**
 * percore: a thread-per-core, io_uring-first async I/O runtime for Node.js.
 *
 * ```ts
 * import { TcpListener } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:8080');
 * for await (const stream of listener) {
 *   (async () => {
 *     const buf = new Uint8Array(8192);
 *     for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) {
 *       await stream.writeAll(buf.subarray(0, n));
 *     }
 *     await stream.close();
 *   })();
 * }
 * ```
 * See docs/ARCHITECTURE.md for the model: a Wasm core that owns the op table
 * and buffer ownership, a native driver per thread, and this API.
 */
export * from './api';
export type { Launch, StartOptions, ThreadContext, ThreadError, ThreadMain } from './threads/launcher';
export { start } from './threads/launcher';
export type { ServeThreadsOptions } from './threads/serve-threads';
export { serveThreads } from './threads/serve-threads';
