// Everything percore exports but the launcher: what `ctx.percore` hands each
// thread's main (the launcher imports this, so it cannot be the package's
// index, which exports the launcher too: that would be an import cycle).

export type { DuplexStream, PercoreDuplex, ToDuplexOptions } from './bridge/duplex';
export { fromDuplex, toDuplex } from './bridge/duplex';
export type { ChannelHandle, ChannelOpOptions, ChannelOptions } from './channel/channel';
export { Channel } from './channel/channel';
export type { PercoreError } from './errors/errors';
export type { BufReaderOptions } from './io/buf-reader';
export { BufReader } from './io/buf-reader';
export type { BufWriterOptions } from './io/buf-writer';
export { BufWriter } from './io/buf-writer';
export type { LengthDelimitedOptions, LinesOptions } from './io/codec/codecs';
export { lengthDelimited, lines } from './io/codec/codecs';
export type { Codec, FramedOptions } from './io/codec/framed';
export { Framed, framed } from './io/codec/framed';
export type { CopyOptions } from './io/copy';
export { copy } from './io/copy';
export { FdStream } from './io/fd-stream';
export type { PrefixedStream } from './io/prefixed';
export { prefixed } from './io/prefixed';
export { RECV_AHEAD } from './io/receiver';
export type { IoOptions, RentReader, RentResult, RentStream, RentWriter } from './io/rent';
export type { AddressInput, SocketAddress } from './net/address';
export type { BindOptions } from './net/tcp-listener';
export { TcpListener } from './net/tcp-listener';
export type { ConnectOptions } from './net/tcp-stream';
export { TcpStream } from './net/tcp-stream';
export type { RuntimeCounters, RuntimeOptions } from './runtime/options';
export { Runtime } from './runtime/runtime';
export { sleep, spawn, Task, timeout } from './runtime/task';
export type { FaultRates, Faults } from './sim/faults';
export { FAULT_PROFILES } from './sim/faults';
export type { HostOptions, SimulateOptions, SimulationFailure, SimulationResult } from './sim/world';
export { SimHost, simulate, World } from './sim/world';
export { getAffinity, setAffinity } from './threads/affinity';
