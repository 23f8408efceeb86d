// spliceCopy(): a relay through a pipe in the kernel, on both drivers:
// every byte arrives, the end is passed on, an abort loses nothing.
import { type Runtime, spliceCopy } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('relays a large payload through the kernel and passes the end on', async () => {
  const a = await connectedPair(rt); // a.client -> a.server
  const b = await connectedPair(rt); // b.client -> b.server
  const payload = pattern(3_000_000, 9);
  const relay = spliceCopy(a.server, b.client, { end: true, chunk: 32768 });
  const got = Buffer.alloc(payload.length);
  await Promise.all([a.client.writeAll(payload).then(() => a.client.shutdown('write')), b.server.readExact(got)]);
  expect(await relay).toBe(payload.length);
  expect(got.equals(payload)).toBe(true);
  const [eof] = await b.server.read(Buffer.alloc(1));
  expect(eof).toBe(0);
  await Promise.all([a.client, a.server, b.client, b.server, a.listener, b.listener].map((s) => s.close()));
});

test('an echo onto the same stream', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const echo = spliceCopy(server, server, { end: true });
  const payload = pattern(200_000, 3);
  const back = Buffer.alloc(payload.length);
  await Promise.all([client.writeAll(payload).then(() => client.shutdown('write')), client.readExact(back)]);
  expect(back.equals(payload)).toBe(true);
  expect(await echo).toBe(payload.length);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('an abort while waiting for bytes rejects with what was copied; the streams stay usable', async () => {
  const a = await connectedPair(rt);
  const b = await connectedPair(rt);
  const ac = new AbortController();
  const relay = spliceCopy(a.server, b.client, { signal: ac.signal });
  await a.client.writeAll(Buffer.from('before the abort'));
  const got = Buffer.alloc(16);
  await b.server.readExact(got);
  expect(got.toString()).toBe('before the abort');
  ac.abort();
  const err = await rejection(relay);
  expect(err.name).toBe('AbortError');
  expect((err as unknown as { bytesCopied: number }).bytesCopied).toBe(16);
  // Nothing taken from a.server after the abort: a read gets what follows.
  await a.client.writeAll(Buffer.from('after'));
  const after = Buffer.alloc(5);
  await a.server.readExact(after);
  expect(after.toString()).toBe('after');
  await Promise.all([a.client, a.server, b.client, b.server, a.listener, b.listener].map((s) => s.close()));
});

test('refuses streams of another state', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const ac = new AbortController();
  const first = spliceCopy(server, client, { signal: ac.signal });
  expect(await rejection(spliceCopy(server, client))).toMatchObject({ code: 'ERR_PERCORE_BUSY' });
  ac.abort();
  await rejection(first);
  expect(await rejection(spliceCopy(server, client, { chunk: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  // A read of the program's in flight on `from`: two readers would split its bytes.
  const reading = server.read(Buffer.alloc(8));
  expect(await rejection(spliceCopy(server, client))).toMatchObject({ code: 'ERR_PERCORE_BUSY' });
  await client.writeAll(Buffer.from('x'));
  expect((await reading)[0]).toBe(1);
  await Promise.all([client.close(), server.close(), listener.close()]);
});
