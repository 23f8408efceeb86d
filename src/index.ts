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
export { Runtime } from './runtime/runtime';
export type { RuntimeOptions, RuntimeCounters } from './runtime/runtime';
export { TcpListener } from './net/tcp-listener';
export type { BindOptions } from './net/tcp-listener';
export { TcpStream } from './net/tcp-stream';
export type { ConnectOptions } from './net/tcp-stream';
export { FdStream } from './io/fd-stream';
export { RECV_AHEAD } from './io/receiver';
export type { IoOptions, RentReader, RentResult, RentStream, RentWriter } from './io/rent';
export { copy } from './io/copy';
export type { CopyOptions } from './io/copy';
export { Task, spawn, sleep, timeout } from './runtime/task';
export type { SocketAddress, AddressInput } from './net/address';
export type { PercoreError } from './errors/errors';
export { start } from './threads/launcher';
export type { StartOptions, ThreadContext, ThreadMain, ThreadError, Launch } from './threads/launcher';
export { Channel } from './channel/channel';
export type { ChannelOptions, ChannelHandle, ChannelOpOptions } from './channel/channel';
export { setAffinity, getAffinity } from './threads/affinity';
