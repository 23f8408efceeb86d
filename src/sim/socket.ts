// A simulated TCP socket: the state the simulated kernel keeps per socket,
// and the segments one end sends the other. The behaviour is in tcp.ts.
import { EAGAIN } from '../errors/errno';
import type { Endpoint } from './address';

/** What a kernel call answers when the real one would answer EAGAIN: the op waits. */
export const AGAIN = -EAGAIN;

/** Read side (ACCEPT, RECV, READ) or write side (CONNECT, SEND, WRITE) of a socket. */
export type Side = 0 | 1;
export const READ_SIDE: Side = 0;
export const WRITE_SIDE: Side = 1;

export type SocketState = 'open' | 'listening' | 'connecting' | 'connected' | 'closed';

export const SEG_DATA = 0;
export const SEG_FIN = 1;
export const SEG_RST = 2;
/** A window update: the receiver read `n` bytes, the sender may send that many more. */
export const SEG_ACK = 3;
/** The handshake's answer: the connection is established at the connecting end. */
export const SEG_SYNACK = 4;

export interface Segment {
  at: number;
  kind: number;
  data: Uint8Array | undefined;
  n: number;
}

/** One direction of one connection: its segments, delivered in order. */
export class Pipe {
  readonly segments: Segment[] = [];
  head = 0;
  /** Arrival time of the last segment queued (later ones never overtake it). */
  last = 0;
  scheduled = false;
  /** Held by a partition since this time (-1: not held). */
  heldSince = -1;

  constructor(
    readonly from: SimSocket,
    readonly to: SimSocket,
  ) {}

  get empty(): boolean {
    return this.head === this.segments.length;
  }
}

/** What a socket knows of the kernel that holds it (kernel.ts). */
export interface SocketHost {
  /** The host's name, for links and traces. */
  readonly name: string;
  /** Bytes a socket of this host takes unread before its peer must wait. */
  readonly window: number;
  /** The listener a SYN for `dst` reaches, if any. */
  listenerFor(dst: Endpoint): SimSocket | undefined;
  /** A new socket, not yet in the descriptor table. */
  newSocket(family: 4 | 6): SimSocket;
}

export class SimSocket {
  state: SocketState = 'open';
  local: Endpoint | undefined = undefined;
  remote: Endpoint | undefined = undefined;
  /** `SOCKOPT_*` values set on it. */
  readonly options = new Map<number, number>();
  // ---- listening ----
  backlog = 0;
  readonly acceptQueue: SimSocket[] = [];
  // ---- a connection ----
  peer: SimSocket | undefined = undefined;
  /** Segments to the peer. */
  out: Pipe | undefined = undefined;
  /** Bytes received and not read, in arrival order. */
  readonly inbox: Uint8Array[] = [];
  inboxOffset = 0;
  buffered = 0;
  /** Bytes this end may still send before the peer's window is full. */
  credit = 0;
  finReceived = false;
  shutRd = false;
  shutWr = false;
  /** An error to report once (ECONNRESET, ETIMEDOUT), then the connection is dead. */
  error = 0;
  /** Reset or timed out: sends fail with EPIPE, receives see end of stream. */
  broken = false;
  /** CONNECT's answer: AGAIN while the handshake runs. */
  connectResult = AGAIN;
  /** The driver's wake-up for this socket's waiting ops, set while it owns the fd. */
  onReady: ((side: Side) => void) | undefined = undefined;

  constructor(
    readonly kernel: SocketHost,
    readonly family: 4 | 6,
  ) {}

  ready(side: Side): void {
    this.onReady?.(side);
  }
}
