// Issue 11, item 6: memory safety from JavaScript. A plain array detached
// while a read holds it, a view of the core's memory outside the pool, a pool
// view kept after release(): each is a coded error, never a crash or a write
// into memory the program does not own.
import type { Runtime } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 16, recvBuffers: 0 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

function detach(buf: Uint8Array): void {
  structuredClone(buf.buffer, { transfer: [buf.buffer as ArrayBuffer] });
}

test('a plain array detached while a read is pending: the read rejects with ERR_INVALID_STATE, the bounce buffer comes back', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = new Uint8Array(16);
  const reading = rejection(server.read(buf));
  detach(buf);
  await client.writeAll(Buffer.from('lost'));
  const err = await reading;
  expect(err.code).toBe('ERR_INVALID_STATE');
  expect(err.buffer).toBe(buf);
  expect(rt.counters().buffersHeld).toBe(0);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a detached array passed to read or write is refused with ERR_INVALID_STATE, not read as empty', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = new Uint8Array(16);
  detach(buf);
  expect((await rejection(server.read(buf))).code).toBe('ERR_INVALID_STATE');
  expect((await rejection(client.writeAll(buf))).code).toBe('ERR_INVALID_STATE');
  // An empty array that is not detached still reads nothing, at once.
  expect((await server.read(new Uint8Array(0)))[0]).toBe(0);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test("a view of the core's memory outside the pool is refused", async () => {
  const { listener, client, server } = await connectedPair(rt);
  const pool = rt.buffer();
  const header = new Uint8Array(pool.buffer, 0, 64);
  const before = Buffer.from(header);
  await client.writeAll(Buffer.from('overwrite the header'));
  const err = await rejection(server.read(header));
  expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
  expect(Buffer.from(header).equals(before)).toBe(true);
  expect(() => rt.release(header)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  rt.release(pool);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a pool view used after release() is refused, even once its slot is handed out again', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const stale = rt.buffer();
  rt.release(stale);
  const fresh: Uint8Array[] = [];
  for (let i = 0; i < 16; i++) fresh.push(rt.buffer()); // the whole pool: the stale slot is reused
  expect((await rejection(server.read(stale))).code).toBe('ERR_INVALID_ARG_VALUE');
  expect((await rejection(client.write(stale))).code).toBe('ERR_INVALID_ARG_VALUE');
  expect(() => rt.release(stale)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  for (const buf of fresh) rt.release(buf);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('release() of a pool buffer that a write waiting its turn holds is refused; the write then sends it (found by the API fuzz)', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = rt.buffer(1);
  buf[0] = 0x62;
  const first = client.write(Buffer.from('a')); // in flight: the next write waits its turn
  const second = client.writeAll(buf);
  // Accepted before, the buffer went back to the pool while the write held
  // it, and the write then lent a free buffer: one buffer held for ever.
  expect(() => rt.release(buf)).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUFFER_IN_FLIGHT' }));
  await Promise.all([first, second]);
  const [, got] = await server.readExact(Buffer.alloc(2));
  expect(Buffer.from(got).toString()).toBe('ab');
  rt.release(buf);
  await Promise.all([client.close(), server.close(), listener.close()]);
});
