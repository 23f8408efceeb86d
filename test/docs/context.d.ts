// What a doc example may use without declaring it: the names the docs use for
// "a stream you have", "your runtime" and so on. test/docs/context.mjs makes
// each of them real before an example runs.
import type { Channel, ChannelHandle, RentStream, Runtime, TcpListener, TcpStream } from 'percore';

declare global {
  /** This thread's runtime. */
  const rt: Runtime;
  /** A connected stream whose peer sends one message and ends: the bytes
   * 0x00 0x06 `hello\n`, a line and a 2-byte big-endian length-delimited frame at once. */
  const stream: TcpStream;
  /** A pool buffer of `rt`. */
  const buf: Uint8Array;
  /** A listener on a free loopback port. */
  const listener: TcpListener;
  /** A proxy's two sides: a client connection and an upstream connection. */
  const client: TcpStream;
  const upstream: TcpStream;
  /** A channel with an fd to adopt waiting in it. */
  const handoff: Channel<number>;
  /** A channel with messages waiting in it. */
  const ch: Channel<{ id: number }>;
  /** What a worker got from its parent: the channel `ch`'s handle. */
  const workerData: { jobs: ChannelHandle };
  /** The program's own functions. */
  function handle(value: unknown): void;
  function serveConnection(stream: TcpStream, signal?: AbortSignal): Promise<void>;
  function reuse(buf: Uint8Array | undefined): void;
  function serveTls(stream: import('node:stream').Duplex): Promise<void>;
  function servePlain(stream: RentStream): Promise<void>;
  /** A TLS key and a self-signed certificate for 127.0.0.1 (PEM). */
  const key: string;
  const cert: string;
}
