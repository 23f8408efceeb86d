// Issue 11, item 4: exhaustion is back-pressure, never a crash. An empty pool
// makes acquireBuffer(), plain-array reads and recv() wait; a full op table
// makes operations wait for a slot; close() always releases the descriptor.
import * as net from 'node:net';
import { copy, type Runtime, TcpListener, type TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, netRoundTrip, pattern, rejection } from '../support/helpers';

/** A runtime for one test, checked clean and closed at its end. */
async function withRuntime(options: ConstructorParameters<typeof Runtime>[0], fn: (rt: Runtime) => Promise<void>) {
  const rt = makeRuntime(options);
  try {
    await fn(rt);
    await expectClean(rt);
  } finally {
    rt.close();
  }
}

test('acquireBuffer() waits for a released buffer, in FIFO order; an aborted wait leaves the queue', () =>
  withRuntime({ buffers: 2, recvBuffers: 0 }, async (rt) => {
    const a = await rt.acquireBuffer();
    const b = await rt.acquireBuffer({ size: 100 });
    expect(b.length).toBe(100);
    const order: string[] = [];
    const ac = new AbortController();
    const aborted = rejection(rt.acquireBuffer({ signal: ac.signal }));
    const first = rt.acquireBuffer().then((buf) => {
      order.push('first');
      return buf;
    });
    const second = rt.acquireBuffer().then((buf) => {
      order.push('second');
      return buf;
    });
    ac.abort();
    expect((await aborted).name).toBe('AbortError');
    rt.release(a);
    const one = await first;
    rt.release(b);
    const two = await second;
    expect(order).toEqual(['first', 'second']);
    rt.release(one);
    rt.release(two);
    expect((await rejection(rt.acquireBuffer({ signal: AbortSignal.abort() }))).name).toBe('AbortError');
  }));

test('more connections than pool buffers: the README server serves them all, as buffers free up', () =>
  withRuntime({ buffers: 4, recvBuffers: 0 }, async (rt) => {
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const serving = (async () => {
      const tasks: Promise<void>[] = [];
      for await (const stream of listener) {
        tasks.push(
          (async () => {
            const buf = await rt.acquireBuffer();
            try {
              for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) {
                await stream.writeAll(buf, n);
              }
            } finally {
              rt.release(buf);
              await stream.close();
            }
          })(),
        );
      }
      await Promise.all(tasks);
    })();
    const port = listener.localAddress().port;
    const payloads = Array.from({ length: 16 }, (_, i) => pattern(20000 + i, i + 1));
    const echoed = await Promise.all(payloads.map((p) => netRoundTrip(port, p)));
    expect(echoed.map((e, i) => e.equals(payloads[i]))).toEqual(payloads.map(() => true));
    await listener.close();
    await serving;
  }));

test('plain-array reads and writes wait for a bounce buffer instead of failing with ERR_PERCORE_NO_BUFFERS', () =>
  withRuntime({ buffers: 2, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    const held = [rt.buffer(), rt.buffer()]; // the whole pool
    const reading = server.readExact(Buffer.alloc(5));
    const writing = client.writeAll(Buffer.from('hello'));
    for (const buf of held) rt.release(buf);
    await writing;
    const [, got] = await reading;
    expect(Buffer.from(got).toString()).toBe('hello');
    await Promise.all([client.close(), server.close(), listener.close()]);
  }));

test('a read waiting for a bounce buffer can be timed out and closed, handing its buffer back', () =>
  withRuntime({ buffers: 1, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    const held = rt.buffer();
    const buf = Buffer.alloc(4);
    const err = await rejection(timeout(5, server.read(buf)));
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.buffer).toBe(buf);
    const closing = rejection(server.read(buf));
    await server.close();
    expect((await closing).code).toBe('ERR_SOCKET_CLOSED');
    rt.release(held);
    await Promise.all([client.close(), listener.close()]);
  }));

test('recv() with an exhausted recv set waits for a buffer rather than failing', () =>
  withRuntime({ buffers: 8, recvBuffers: 1 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close(); // so that the receive is the only op in flight
    await client.writeAll(Buffer.from('a'));
    const first = await server.recv();
    await client.writeAll(Buffer.from('b'));
    const second = server.recv();
    // Until the receive has found the recv set empty (and ended with ENOBUFS).
    while (rt.counters().opsInFlight > 0) await new Promise((r) => setTimeout(r, 1));
    rt.release(first!);
    expect(Buffer.from((await second)!).toString()).toBe('b');
    rt.release((await Promise.resolve(second))!);
    await server.stopRecv();
    await Promise.all([client.close(), server.close()]);
  }));

test('a full op table makes operations wait for a slot instead of failing with ERR_PERCORE_OP_TABLE_FULL', () =>
  withRuntime({ entries: 8, buffers: 64, recvBuffers: 0 }, async (rt) => {
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const port = listener.localAddress().port;
    const peers: net.Socket[] = [];
    const streams: TcpStream[] = [];
    for (let i = 0; i < 12; i++) {
      const peer = net.connect(port, '127.0.0.1');
      peers.push(peer);
      streams.push(await listener.accept());
    }
    await listener.close(); // frees the accept's slot; 12 reads now need 12 slots of 8
    const reads = streams.map((s) => s.readExact(Buffer.alloc(3)));
    for (const [i, p] of peers.entries()) p.write(`${100 + i}`);
    const got = await Promise.all(reads);
    expect(got.map(([, buf]) => Buffer.from(buf).toString())).toEqual(peers.map((_, i) => `${100 + i}`));
    for (const p of peers) p.destroy();
    await Promise.all(streams.map((s) => s.close()));
  }));

test('close() releases the descriptor even when the op table is full, and a second close() settles', () =>
  withRuntime({ entries: 4, buffers: 16, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close();
    // Fill the table with timers.
    const ac = new AbortController();
    const sleeps: Promise<unknown>[] = [];
    while (rt.core.counter(0) < 4) sleeps.push(rt.sleep(1e6, { signal: ac.signal }).catch(() => {}));
    const before = rt.counters().openFds;
    await Promise.all([client.close(), client.close()]); // no slot is free for its CLOSE
    expect(rt.counters().openFds).toBe(before - 1);
    ac.abort();
    await Promise.all(sleeps);
    await server.close();
  }));

/** Fills every slot of `rt`'s op table with timers that only `release()`
 * ends (the last sleep made finds no slot and waits, proving the table full). */
function fillOpTable(rt: Runtime): { release: () => Promise<void> } {
  const ac = new AbortController();
  const sleeps: Promise<unknown>[] = [];
  for (;;) {
    const used = rt.core.counter(0);
    sleeps.push(rt.sleep(1e6, { signal: ac.signal }).catch(() => {}));
    if (rt.core.counter(0) === used) break;
  }
  return {
    release: async () => {
      ac.abort();
      await Promise.all(sleeps);
    },
  };
}

test('sleep() and timeout() wait for an op slot when the table is full, then run', () =>
  withRuntime({ entries: 4, buffers: 4, recvBuffers: 0 }, async (rt) => {
    const table = fillOpTable(rt);
    expect(rt.counters().timers).toBe(4);
    const order: string[] = [];
    const slept = rt.sleep(1).then(() => order.push('sleep'));
    const timedOut = rejection(timeout(1, new Promise(() => {}))).then((err) => {
      order.push('timeout');
      return err;
    });
    const ac = new AbortController();
    const aborted = rejection(rt.sleep(1, { signal: ac.signal }));
    expect(rt.counters().timers).toBe(4); // none of them armed a timer
    ac.abort(); // a sleep waiting for a slot can be aborted: it leaves the queue
    expect((await aborted).name).toBe('AbortError');
    await table.release();
    await slept;
    const err = await timedOut;
    expect(err.code).toBe('ETIMEDOUT');
    expect(order.sort()).toEqual(['sleep', 'timeout']);
  }));

test('timeout() of a percore operation on a full table: its timer waits for a slot, then cancels the operation', () =>
  withRuntime({ entries: 4, buffers: 8, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close();
    const reading = server.read(Buffer.alloc(8)); // takes a slot, and nothing comes yet
    const table = fillOpTable(rt);
    const waiting = rejection(timeout(1, server.read(Buffer.alloc(8)))); // behind the first read
    await table.release();
    expect((await waiting).code).toBe('ETIMEDOUT');
    await client.writeAll(Buffer.from('x'));
    expect((await reading)[0]).toBe(1);
    await Promise.all([client.close(), server.close()]);
  }));

test('copy() waits for an op slot when the table is full, then relays every byte', () =>
  withRuntime({ entries: 4, buffers: 8, recvBuffers: 2 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close();
    const table = fillOpTable(rt);
    const submitted = rt.counters().submitted;
    const relay = copy(server, server);
    expect(rt.counters().submitted).toBe(submitted); // the relay waits: nothing submitted
    // While it waits it owns the stream's reading side.
    await expect(server.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'ERR_PERCORE_BUSY' });
    const payload = pattern(50_000, 3);
    const writing = client.writeAll(payload); // waits for a slot too, behind the relay
    await table.release();
    await writing;
    const echoed = await client.readExact(Buffer.alloc(payload.length));
    expect(Buffer.from(echoed[1]).equals(payload)).toBe(true);
    await client.shutdown();
    expect(await relay).toBe(payload.length);
    await Promise.all([client.close(), server.close()]);
  }));

test('a copy() waiting for an op slot stops on abort, timeout and close, having copied nothing', () =>
  withRuntime({ entries: 4, buffers: 8, recvBuffers: 2 }, async (rt) => {
    const a = await connectedPair(rt);
    const b = await connectedPair(rt);
    await Promise.all([a.listener.close(), b.listener.close()]);
    const table = fillOpTable(rt);
    const ac = new AbortController();
    const aborted = rejection(copy(a.server, a.server, { signal: ac.signal }));
    ac.abort();
    expect(await aborted).toMatchObject({ name: 'AbortError', bytesCopied: 0 });
    const timedOut = rejection(timeout(1, copy(a.server, a.server)));
    const closing = rejection(copy(b.server, b.server));
    await b.server.close(); // the fd is released though no slot is free
    expect(await closing).toMatchObject({ code: 'ERR_SOCKET_CLOSED', bytesCopied: 0 });
    await table.release();
    expect(await timedOut).toMatchObject({ code: 'ETIMEDOUT', bytesCopied: 0 });
    await Promise.all([a.client.close(), a.server.close(), b.client.close()]);
  }));

test('close() cancels every operation of the stream, those waiting for a slot and those in the kernel alike', () =>
  withRuntime({ entries: 4, buffers: 8, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close();
    const reading = rejection(server.read(Buffer.alloc(8))); // in the kernel
    const table = fillOpTable(rt);
    const writing = rejection(server.write(Buffer.from('x'))); // waits for a slot, first in the stream's list
    await server.close();
    expect((await writing).code).toBe('ERR_SOCKET_CLOSED');
    expect((await reading).code).toBe('ERR_SOCKET_CLOSED');
    await table.release();
    await client.close();
  }));

test('a shutdown() waiting for a slot is cancelled by close(), never run on the closed number (found by the API fuzz)', () =>
  withRuntime({ entries: 4, buffers: 8, recvBuffers: 0 }, async (rt) => {
    const { listener, client, server } = await connectedPair(rt);
    await listener.close();
    const table = fillOpTable(rt);
    const shutting = rejection(server.shutdown());
    await server.close();
    expect((await shutting).code).toBe('ERR_SOCKET_CLOSED');
    await table.release();
    await client.close();
  }));
