// Shared by the API tests: a runtime per test file and the leak check every
// test ends with.
import * as net from 'node:net';
import {
  type PercoreError,
  Runtime,
  type RuntimeCounters,
  type RuntimeOptions,
  TcpListener,
  TcpStream,
} from '../../src/index';

export function makeRuntime(options: RuntimeOptions = {}): Runtime {
  const rt = new Runtime(options);
  Runtime.setCurrent(rt);
  return rt;
}

/** Whether counters `c` say the runtime holds nothing: no op in flight, no
 * buffer lent or held, no fd open, no timer, no task. */
export function holdsNothing(c: RuntimeCounters): boolean {
  return (
    c.opsInFlight === 0 &&
    c.buffersLent === 0 &&
    c.buffersHeld === 0 &&
    c.openFds === 0 &&
    c.timers === 0 &&
    c.tasks === 0
  );
}

/** What a runtime holds that a finished program must have given back: every
 * field is 0 once it is clean. */
export function heldCounts(rt: Runtime): Record<string, number> {
  const c: RuntimeCounters = rt.counters();
  return {
    opsInFlight: c.opsInFlight,
    buffersLent: c.buffersLent,
    buffersHeld: c.buffersHeld,
    openFds: c.openFds,
    timers: c.timers,
    tasks: c.tasks,
  };
}

/** `heldCounts` of a clean runtime. */
export const CLEAN = { opsInFlight: 0, buffersLent: 0, buffersHeld: 0, openFds: 0, timers: 0, tasks: 0 };

/** `heldCounts`, the recv-set buffers not back in the pick set, and the
 * number of the first core invariant broken: all 0 (`WHOLE`) once a program
 * is done and has released what `recv()` gave it. */
export function wholeState(rt: Runtime): Record<string, number> {
  return {
    ...heldCounts(rt),
    recvSetMissing: rt.recvSetSize - rt.counters().buffersProvided,
    invariant: rt.core.checkInvariants(),
  };
}

/** `wholeState` of a clean runtime. */
export const WHOLE = { ...CLEAN, recvSetMissing: 0, invariant: 0 };

/** Waits until the runtime holds nothing: no op in flight, no buffer lent or
 * held, no fd open, no timer, no task. Fails with the counters if that does not
 * happen within `ms`. */
export async function expectClean(rt: Runtime, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  let held = heldCounts(rt);
  while (Date.now() < deadline) {
    held = heldCounts(rt);
    if (Object.values(held).every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(held).toEqual(CLEAN);
}

/** Waits, turn by turn of the event loop, until `cond()` holds: a wait for a
 * state, not for a time. Fails naming `what` if it never holds (the bound is
 * only there to fail before jest's timeout, with a message). */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A listener on a free loopback port and a connected pair across it. */
export async function connectedPair(
  rt: Runtime,
): Promise<{ listener: TcpListener; client: TcpStream; server: TcpStream }> {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const [client, server] = await Promise.all([
    TcpStream.connect(listener.localAddress(), { runtime: rt }),
    listener.accept(),
  ]);
  return { listener, client, server };
}

/** Deterministic bytes: a payload whose every position is checkable. */
export function pattern(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** Echoes `payload` through a plain node:net client (not percore's own): sends
 * it, half-closes, and resolves what came back once the server closes.
 * Rejects if the echo's length differs from what was sent. */
export function netRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => {
      const echoed = Buffer.concat(chunks);
      if (echoed.length === payload.length) resolve(echoed);
      else reject(new Error(`echoed ${echoed.length} bytes of ${payload.length}`));
    });
    socket.on('error', reject);
  });
}

/** The error `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<PercoreError> {
  try {
    await p;
  } catch (err) {
    return err as PercoreError;
  }
  throw new Error('expected a rejection');
}
