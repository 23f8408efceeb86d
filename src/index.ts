/**
 * percore: a thread-per-core, io_uring-first async I/O runtime for Node.js.
 *
 * ```ts
 * import { TcpListener } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:50002');
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
export { Runtime } from './runtime';
export type { RuntimeOptions, RuntimeCounters } from './runtime';
export { RECV_AHEAD, TcpListener, TcpStream } from './tcp';
export type { BindOptions, ConnectOptions, IoOptions } from './tcp';
export { copy } from './copy';
export type { CopyOptions } from './copy';
export { Task, spawn, sleep, timeout } from './task';
export type { SocketAddress, AddressInput } from './address';
export type { PercoreError } from './errors';
export { start } from './launcher';
export type { StartOptions, ThreadContext, ThreadMain, ThreadError, Launch } from './launcher';
export { Channel } from './channel';
export type { ChannelOptions, ChannelHandle, ChannelOpOptions } from './channel';
export { setAffinity, getAffinity } from './affinity';
