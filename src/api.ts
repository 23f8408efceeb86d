// Everything percore exports but the launcher: what `ctx.percore` hands each
// thread's main (the launcher imports this, so it cannot be the package's
// index, which exports the launcher too: that would be an import cycle).
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
export { Channel } from './channel/channel';
export type { ChannelOptions, ChannelHandle, ChannelOpOptions } from './channel/channel';
export { setAffinity, getAffinity } from './threads/affinity';
