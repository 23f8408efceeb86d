// copy() over the rent contract alone: streams that are not descriptors of
// the runtime (test doubles here; TLS layers and buffered readers later) are
// relayed in JavaScript with the same results and errors as the core relay.
import {
  copy,
  type IoOptions,
  type PercoreError,
  type RentResult,
  type RentStream,
  type Runtime,
} from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';
import { MemoryStream } from '../support/rent-doubles';

/** A reader that never has data: its read waits until its signal aborts. */
class SilentStream extends MemoryStream {
  override read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    const signal = (typeof length === 'object' ? length : options)?.signal;
    return new Promise((_, reject) => {
      signal?.addEventListener('abort', () =>
        reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR', buffer: buf })),
      );
    });
  }
}

describe('copy() between rent streams that are not descriptors', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 4096, buffers: 16 });
  });
  afterAll(() => rt.close());
  afterEach(() => expectClean(rt));

  test('relays a test double into another, in order, and resolves with the count', async () => {
    const payload = pattern(100_000, 3);
    const from = new MemoryStream(payload, { chunks: [1000] });
    const to = new MemoryStream(Buffer.alloc(0));
    await expect(copy(from, to, { end: true })).resolves.toBe(payload.length);
    expect(to.written.equals(payload)).toBe(true);
    expect(to.shutdowns).toBe(1);
    expect(from.reads).toBeGreaterThan(100 / 16); // more than one buffer's worth: the loop really looped
  });

  test('without end: true it leaves the writing side open', async () => {
    const to = new MemoryStream(Buffer.alloc(0));
    await copy(new MemoryStream(Buffer.from('abc')), to);
    expect(to.shutdowns).toBe(0);
  });

  test('relays a test double into a TcpStream, and a TcpStream into a test double', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const request = pattern(50_000, 5);
    const sink = new MemoryStream(Buffer.alloc(0));
    const down = copy(server, sink, { end: true });
    await expect(copy(new MemoryStream(request, { chunks: [3000] }), client, { end: true })).resolves.toBe(
      request.length,
    );
    await expect(down).resolves.toBe(request.length); // the FIN ended the second relay
    expect(sink.written.equals(request)).toBe(true);
    expect(sink.shutdowns).toBe(1);
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('a failed write reports the bytes copied and the bytes read but never written, exactly', async () => {
    const payload = pattern(10_000, 8);
    const to = new MemoryStream(Buffer.alloc(0), { failAfter: 2500 });
    const err = await rejection(copy(new MemoryStream(payload, { chunks: [1000] }), to));
    expect(err.code).toBe('EPIPE');
    expect(err.bytesCopied).toBe(2500);
    expect(Buffer.from(err.unwritten!).equals(payload.subarray(2500, 3000))).toBe(true);
    expect(err.buffer).toBeUndefined(); // the relay's buffer is not the program's
  });

  test('an abort stops a relay waiting to read, with nothing unwritten', async () => {
    const controller = new AbortController();
    const relay = copy(new SilentStream(Buffer.alloc(0)), new MemoryStream(Buffer.alloc(0)), {
      signal: controller.signal,
    });
    controller.abort();
    const err = await rejection(relay);
    expect(err.code).toBe('ABORT_ERR');
    expect(err.bytesCopied).toBe(0);
    expect(err.unwritten!.length).toBe(0);
  });

  test('refuses what is not a rent stream', async () => {
    const stream = new MemoryStream(Buffer.alloc(0));
    expect((await rejection(copy({} as RentStream, stream))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(copy(stream, { read() {} } as unknown as RentStream))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(copy(stream, stream, { end: 1 as unknown as boolean }))).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('an error that is not an Error still rejects the copy', async () => {
    const from = new MemoryStream(Buffer.alloc(0));
    from.read = () => Promise.reject('plain string');
    await expect(copy(from, new MemoryStream(Buffer.alloc(0)))).rejects.toBe('plain string');
  });

  test('gives its pool buffer back whichever way it ends (the leak check after each test)', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const to = new MemoryStream(Buffer.alloc(0), { failAfter: 10 });
    await client.writeAll(Buffer.from('0123456789abcdef'));
    const err = (await rejection(copy(server, to))) as PercoreError;
    expect(err.bytesCopied).toBe(10);
    expect(Buffer.from(err.unwritten!).toString()).toBe('abcdef');
    await Promise.all([client.close(), server.close(), listener.close()]);
  });
});
