// BufReader: lines, frames, peeks and rent reads over a TcpStream (pool
// buffer) and over a test double (plain buffer), bounded memory, misuse.
import { BufReader, copy, type Runtime } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';
import { MemoryStream } from '../support/rent-doubles';

const text = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString());

describe('BufReader', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 4096, buffers: 32 });
  });
  afterAll(() => rt.close());
  afterEach(() => expectClean(rt));

  test('reads CRLF and LF lines from a TcpStream into a pool buffer, the last one unterminated', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const held = rt.counters().buffersHeld;
    const reader = new BufReader(server);
    expect(rt.counters().buffersHeld).toBe(held + 1); // a pool buffer: the kernel reads into it
    // Written in pieces that split line ends (a CR in one segment, its LF in the next).
    for (const piece of ['one\r', '\ntwo\nthr', 'ee\r\n\nfour']) {
      await client.writeAll(Buffer.from(piece));
      await new Promise((r) => setTimeout(r, 5));
    }
    await client.shutdown();
    const got: (string | null)[] = [];
    for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) got.push(text(line));
    expect(got).toEqual(['one', 'two', 'three', '', 'four']);
    expect(await reader.readLine()).toBeNull();
    await reader.close(); // the buffer back, the stream closed
    expect(rt.counters().buffersHeld).toBe(held);
    await Promise.all([client.close(), listener.close()]);
  });

  test('lines() yields strings for every chunking of the input', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`);
    const input = Buffer.from(lines.map((l, i) => l + (i % 3 === 0 ? '\r\n' : '\n')).join(''));
    for (const chunks of [[1], [2, 3], [7], [100, 1, 5000], [1 << 20]]) {
      const reader = new BufReader(new MemoryStream(input, { chunks }), { capacity: 64 });
      const got: string[] = [];
      for await (const line of reader.lines()) got.push(line);
      expect(got).toEqual(lines);
      reader.release();
    }
  });

  test('peek looks without consuming, consume skips, readUntil keeps the delimiter, readExact(n) takes n', async () => {
    const reader = new BufReader(new MemoryStream(Buffer.from('GET /a HTTP/1.1\r\nrest:12345'), { chunks: [3] }));
    expect(text(await reader.peek(4))).toBe('GET ');
    expect(reader.buffered).toBeGreaterThanOrEqual(4);
    reader.consume(4);
    expect(text(await reader.readUntil(0x20))).toBe('/a ');
    expect(text(await reader.readLine())).toBe('HTTP/1.1');
    expect(text(await reader.readUntil(0x3a))).toBe('rest:');
    expect(text(await reader.readExact(3))).toBe('123');
    expect(await reader.fill()).toBeGreaterThanOrEqual(0);
    expect(text(await reader.readUntil(0x0a))).toBe('45'); // the end of the stream: what is left
    expect(await reader.readUntil(0x0a)).toBeNull();
    expect(text(await reader.peek(10))).toBe(''); // short only at the end
    expect(reader.ended).toBe(true);
    const err = await rejection(reader.readExact(1));
    expect(err.code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(err.bytesRead).toBe(0);
    reader.release();
  });

  test('a line longer than maxLength is a coded error, with memory bounded by maxLength', async () => {
    const long = Buffer.concat([Buffer.alloc(10_000, 0x61), Buffer.from('\nshort\n')]);
    const reader = new BufReader(new MemoryStream(long, { chunks: [500] }), { capacity: 256, maxLength: 1024 });
    const err = await rejection(reader.readLine());
    expect(err.code).toBe('ERR_PERCORE_LINE_TOO_LONG');
    expect(reader.buffered).toBeLessThanOrEqual(1024); // it never buffered more
    // The bytes stay buffered: the program may skip them and go on.
    while (true) {
      const view = reader.bufferedView();
      const lf = view.indexOf(0x0a);
      if (lf >= 0) {
        reader.consume(lf + 1);
        break;
      }
      reader.consume(view.length);
      await reader.fill();
    }
    expect(text(await reader.readLine())).toBe('short');
    expect((await rejection(reader.peek(1025))).code).toBe('ERR_PERCORE_FRAME_TOO_LONG');
    expect((await rejection(reader.readExact(2000))).code).toBe('ERR_PERCORE_FRAME_TOO_LONG');
    reader.release();
  });

  test('grows past its pool buffer for a long line, then goes back to it', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const reader = new BufReader(server, { maxLength: 20_000 });
    const long = 'y'.repeat(10_000);
    await client.writeAll(Buffer.from(`${long}\nok\n`));
    expect(text(await reader.readLine())).toBe(long);
    expect(text(await reader.readLine())).toBe('ok');
    await client.writeAll(Buffer.from('again\n'));
    expect(text(await reader.readLine())).toBe('again');
    await Promise.all([reader.close(), client.close(), listener.close()]);
  });

  test('rent reads: buffered bytes first, a large read bypasses the buffer, readExact(buf) spans both', async () => {
    const payload = pattern(50_000, 4);
    const inner = new MemoryStream(payload, { chunks: [1000] });
    const reader = new BufReader(inner, { capacity: 512 });
    expect(text(await reader.peek(3))).toBe(Buffer.from(payload.subarray(0, 3)).toString());
    const [n, buf] = await reader.read(new Uint8Array(100));
    expect(n).toBe(100);
    expect(Buffer.from(buf).equals(payload.subarray(0, 100))).toBe(true);
    const big = new Uint8Array(20_000);
    const [m] = await reader.readExact(big);
    expect(m).toBe(20_000);
    expect(Buffer.from(big).equals(payload.subarray(100, 20_100))).toBe(true);
    // copy() takes a BufReader as any RentReader
    const sink = new MemoryStream();
    await expect(copy(reader, sink)).resolves.toBe(payload.length - 20_100);
    expect(sink.written.equals(payload.subarray(20_100))).toBe(true);
    const err = await rejection(reader.readExact(new Uint8Array(10)));
    expect(err.code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    reader.release();
  });

  test('relays a TcpStream through a BufReader into another TcpStream with copy(), every byte in order', async () => {
    const a = await connectedPair(rt);
    const b = await connectedPair(rt);
    const payload = pattern(300_000, 9);
    const reader = new BufReader(a.server);
    const relay = copy(reader, b.client, { end: true });
    const sent = a.client.writeAll(payload).then(() => a.client.shutdown());
    const got = Buffer.alloc(payload.length);
    await b.server.readExact(got);
    await Promise.all([sent, relay]);
    expect(got.equals(payload)).toBe(true);
    await Promise.all([
      reader.close(),
      a.client.close(),
      a.listener.close(),
      b.client.close(),
      b.server.close(),
      b.listener.close(),
    ]);
  });

  test('misuse is detected: a second call while one is pending, a view passed back, use after release', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const reader = new BufReader(server);
    const first = reader.readLine();
    expect((await rejection(reader.readLine())).code).toBe('ERR_PERCORE_BUSY');
    await client.writeAll(Buffer.from('abc\n'));
    const view = (await first)!;
    expect((await rejection(reader.read(view))).code).toBe('ERR_PERCORE_BUSY');
    reader.release();
    expect((await rejection(reader.readLine())).code).toBe('ERR_SOCKET_CLOSED');
    expect(() => reader.consume(0)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
    await Promise.all([server.close(), client.close(), listener.close()]);
  });

  test('release while a read waits keeps the pool buffer until the read lets go of it', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const reader = new BufReader(server);
    const pending = reader.readLine();
    reader.release();
    await server.close(); // cancels the read in flight
    expect((await rejection(pending)).code).toBe('ERR_SOCKET_CLOSED');
    await Promise.all([client.close(), listener.close()]);
  });

  test("a BufReader over a closed TcpStream rejects with the stream's code", async () => {
    const { listener, client, server } = await connectedPair(rt);
    const reader = new BufReader(server);
    await server.close();
    expect((await rejection(reader.fill())).code).toBe('ERR_SOCKET_CLOSED');
    reader.release();
    await Promise.all([client.close(), listener.close()]);
  });
});
