// Timers, tasks, timeouts and cancellation that lose no data.
import { type PercoreError, type Runtime, sleep, spawn, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('sleep waits at least the time asked, on the core timer wheel', async () => {
  const start = performance.now();
  const timer = sleep(30);
  expect(rt.counters().timers).toBe(1);
  await timer;
  expect(performance.now() - start).toBeGreaterThanOrEqual(29);
});

test('sleeps resolve in deadline order', async () => {
  // A deadline is the time of the call plus the delay: on a loaded machine
  // the calls below can be many milliseconds apart, so the expected order is
  // that of each call's own deadline, not of the delays (timer ticks are 1 ms:
  // deadlines closer than that may come in either order).
  const deadlines = new Map<number, number>();
  const order: number[] = [];
  const sleeps = [40, 10, 30, 20, 0].map((ms) => {
    deadlines.set(ms, performance.now() + ms);
    return sleep(ms).then(() => order.push(ms));
  });
  await Promise.all(sleeps);
  for (let i = 1; i < order.length; i++) {
    expect(deadlines.get(order[i])!).toBeGreaterThan(deadlines.get(order[i - 1])! - 1);
  }
  expect([...order].sort((a, b) => a - b)).toEqual([0, 10, 20, 30, 40]);
});

test('an aborted sleep rejects with AbortError and frees its timer', async () => {
  const ac = new AbortController();
  const p = sleep(10_000, { signal: ac.signal });
  ac.abort();
  await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
});

test('spawn returns a handle to await, and abort reaches the task through its signal', async () => {
  expect(await spawn(async () => 7)).toBe(7);
  const task = spawn(async (signal) => {
    await sleep(10_000, { signal });
    return 'late';
  });
  expect(rt.counters().tasks).toBe(1);
  task.abort();
  await expect(task).rejects.toMatchObject({ name: 'AbortError' });
  expect(() => spawn('nope' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
});

test('timeout resolves with the value when the promise wins and leaves no timer behind', async () => {
  expect(
    await timeout(
      1000,
      sleep(5).then(() => 'ok'),
    ),
  ).toBe('ok');
  await expect(timeout(1000, Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  await expect(timeout(-1, Promise.resolve())).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(timeout(5, 'x' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
});

test('a read that times out returns its buffer, and bytes that arrive later are not lost', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = Buffer.alloc(64);
  let err: PercoreError | undefined;
  try {
    await timeout(20, server.read(buf));
  } catch (e) {
    err = e as PercoreError;
  }
  expect(err).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' });
  expect(err!.buffer).toBe(buf);
  await client.writeAll(Buffer.from('after the timeout'));
  const [n] = await server.read(buf);
  expect(buf.subarray(0, n).toString()).toBe('after the timeout');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a read aborted before any data rejects with its buffer; the bytes sent afterwards reach the next read', async () => {
  const { listener, client, server } = await connectedPair(rt);
  for (let round = 0; round < 20; round++) {
    const ac = new AbortController();
    const buf = Buffer.alloc(32);
    const pending = server.read(buf, { signal: ac.signal });
    await null; // the runtime's flush (a microtask queued by read) submits the read
    ac.abort(); // nothing was sent yet: the abort path must run
    const err = await rejection(pending);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(err.buffer).toBe(buf);
    const msg = Buffer.from(`message-${round}`);
    await client.writeAll(msg);
    const [n] = await server.read(buf);
    expect(buf.subarray(0, n).toString()).toBe(msg.toString());
  }
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a read aborted once its data is in the socket resolves with the data', async () => {
  const { listener, client, server } = await connectedPair(rt);
  for (let round = 0; round < 20; round++) {
    const msg = Buffer.from(`>>message-${round}`);
    await client.writeAll(msg); // one small send: one segment, whole in the socket
    // Reading its first two bytes proves the rest is waiting in the socket.
    const head = Buffer.alloc(2);
    await server.readExact(head);
    expect(head.toString()).toBe('>>');
    const ac = new AbortController();
    const buf = Buffer.alloc(32);
    const pending = server.read(buf, { signal: ac.signal });
    await null; // submitted: with data waiting, the read completes at submission
    ac.abort(); // too late: the data path must run
    const [n, same] = await pending;
    expect(same).toBe(buf);
    expect(buf.subarray(0, n).toString()).toBe(`message-${round}`);
  }
  // And the abort reached nothing: the stream still reads.
  await client.writeAll(Buffer.from('still'));
  const buf = Buffer.alloc(8);
  const [n] = await server.read(buf);
  expect(buf.subarray(0, n).toString()).toBe('still');
  await Promise.all([client.close(), server.close(), listener.close()]);
});
