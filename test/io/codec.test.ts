// Codecs (framed(), lines(), lengthDelimited()) and prefixed(), over
// TcpStreams and test doubles.
import { framed, lengthDelimited, lines, prefixed, type Runtime } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';
import { MemoryStream } from '../support/rent-doubles';

const tick = () => new Promise((r) => setImmediate(r));

describe('codecs', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 4096, buffers: 32 });
  });
  afterAll(() => rt.close());
  afterEach(() => expectClean(rt));

  test('lines over a TcpStream pair: send and iterate, frames sent in one job leave in one write', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const a = framed(client, lines({ eol: '\r\n' }));
    const b = framed(server, lines());
    const sends: number[] = [];
    const writeAll = client.writeAll.bind(client);
    client.writeAll = ((buf: Uint8Array, length?: number) => {
      sends.push(length ?? buf.length);
      return writeAll(buf, length as number);
    }) as typeof client.writeAll;
    for (const l of ['hello', 'wörld', '', 'last']) await a.send(l);
    await a.writer.shutdown();
    expect(sends).toHaveLength(1);
    const got: string[] = [];
    for await (const line of b) got.push(line);
    expect(got).toEqual(['hello', 'wörld', '', 'last']);
    await Promise.all([a.close(), b.close(), listener.close()]);
  });

  test('lines: a line over maxLength is ERR_PERCORE_LINE_TOO_LONG, read or sent', async () => {
    const f = framed(
      new MemoryStream(Buffer.from(`${'z'.repeat(100)}\nok\n`), { chunks: [7] }),
      lines({ maxLength: 50 }),
    );
    expect((await rejection(f.next())).code).toBe('ERR_PERCORE_LINE_TOO_LONG');
    expect((await rejection(f.send('q'.repeat(51)))).code).toBe('ERR_PERCORE_LINE_TOO_LONG');
    await f.close();
  });

  test.each([
    [1, 'be'],
    [2, 'be'],
    [2, 'le'],
    [4, 'be'],
    [4, 'le'],
  ] as const)(
    'length-delimited, %i-byte length, %s: round trip over a TcpStream pair',
    async (lengthBytes, byteOrder) => {
      const { listener, client, server } = await connectedPair(rt);
      const max = lengthBytes === 1 ? 255 : 10_000;
      const codec = () => lengthDelimited({ lengthBytes, byteOrder, maxLength: max });
      const a = framed(client, codec());
      const b = framed(server, codec());
      const frames = [0, 1, 17, max, max - 1, 3].map((n, i) => pattern(n, i + 1));
      for (const f of frames) await a.send(f);
      await a.writer.shutdown();
      const got: Uint8Array[] = [];
      for await (const f of b) got.push(f);
      expect(got.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
      await Promise.all([a.close(), b.close(), listener.close()]);
    },
  );

  test('length-delimited: the prefix is in the byte order asked for', async () => {
    const be = new MemoryStream();
    const le = new MemoryStream();
    const fb = framed(be, lengthDelimited({ lengthBytes: 2 }));
    const fl = framed(le, lengthDelimited({ lengthBytes: 4, byteOrder: 'le' }));
    await fb.send(new Uint8Array(258));
    await fl.send(new Uint8Array(258));
    await tick();
    expect(be.written.subarray(0, 2).toString('hex')).toBe('0102');
    expect(le.written.subarray(0, 4).toString('hex')).toBe('02010000');
    await Promise.all([fb.close(), fl.close()]);
  });

  test('length-delimited: too long a frame is refused before its body is buffered; a cut frame is premature', async () => {
    const header = Buffer.from([0, 0, 0x10, 0]); // 4096 bytes announced
    const f = framed(new MemoryStream(Buffer.concat([header, Buffer.alloc(10)])), lengthDelimited({ maxLength: 1000 }));
    const err = await rejection(f.next());
    expect(err.code).toBe('ERR_PERCORE_FRAME_TOO_LONG');
    expect(f.reader.buffered).toBeLessThanOrEqual(1000 + 4);
    expect((await rejection(f.send(new Uint8Array(1001)))).code).toBe('ERR_PERCORE_FRAME_TOO_LONG');
    await f.close();
    const cut = framed(new MemoryStream(Buffer.from([0, 0, 0, 5, 1, 2])), lengthDelimited());
    expect((await rejection(cut.next())).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    await cut.close();
    expect(() => lengthDelimited({ lengthBytes: 3 as 4 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => lengthDelimited({ lengthBytes: 1, maxLength: 256 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });

  test('prefixed: detect a protocol from the first bytes, then read them again from the stream', async () => {
    const { listener, client, server } = await connectedPair(rt);
    await client.writeAll(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    const [n, buf] = await server.read(new Uint8Array(3));
    expect(Buffer.from(buf.subarray(0, n)).toString()).toBe('*1\r');
    const stream = prefixed(server, buf.subarray(0, n));
    buf.fill(0); // the prefix was copied: the buffer is the caller's again
    expect(stream.pending).toBe(3);
    const two = new Uint8Array(2);
    expect((await stream.read(two))[0]).toBe(2);
    expect(Buffer.from(two).toString()).toBe('*1');
    const rest = new Uint8Array(12);
    await stream.readExact(rest); // spans the prefix's last byte and the stream
    expect(Buffer.from(rest).toString()).toBe('\r\n$4\r\nPING\r\n');
    await stream.writeAll(Buffer.from('+PONG\r\n')); // writes go straight through
    const reply = new Uint8Array(7);
    await client.readExact(reply);
    expect(Buffer.from(reply).toString()).toBe('+PONG\r\n');
    await Promise.all([stream.close(), client.close(), listener.close()]);
  });
});
