// BufWriter: corking (the writes of one job leave as one writeAll), flush,
// back-pressure, large writes, sticky errors, pool buffers given back.
import { BufWriter, type Runtime } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';
import { MemoryStream } from '../support/rent-doubles';

const tick = () => new Promise((r) => setImmediate(r));

describe('BufWriter', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 4096, buffers: 32 });
  });
  afterAll(() => rt.close());
  afterEach(() => expectClean(rt));

  test('writes made in one job, awaited or not, leave as one writeAll at its end', async () => {
    const inner = new MemoryStream();
    const out = new BufWriter(inner, { capacity: 1024 });
    // A handler: header, body, trailer, each awaited.
    const handler = async () => {
      await out.write(Buffer.from('HEADER '));
      await out.write(Buffer.from('BODY '));
      out.tryWrite('TRAILER');
      await Promise.resolve();
      await out.writeAll(Buffer.from('!'));
    };
    await handler();
    expect(inner.writes).toHaveLength(0); // still in this job
    await tick();
    expect(inner.writes.map(String)).toEqual(['HEADER BODY TRAILER!']);
    // Another job, another single write.
    setImmediate(() => {
      out.tryWrite('a');
      out.tryWrite(Buffer.from('b'));
    });
    await tick();
    await tick();
    expect(inner.writes.map(String)).toEqual(['HEADER BODY TRAILER!', 'ab']);
    await out.close();
    expect(inner.closed).toBe(1);
  });

  test('tryWrite encodes strings as Buffer#write does: ASCII, non-ASCII at any place, each encoding', async () => {
    const inner = new MemoryStream();
    const out = new BufWriter(inner, { capacity: 1024 });
    const cases: [string, BufferEncoding][] = [
      ['$13\r\n', 'latin1'],
      ['plain ascii', 'utf8'],
      ['caf\u00e9 at the end', 'utf8'], // a short string leaving the ASCII path midway
      ['\u00e9 first', 'latin1'],
      ['snow \u2603 man', 'utf8'],
      ['x'.repeat(100), 'ascii'], // longer than the short-string path
      ['6869', 'hex'],
      ['', 'utf8'],
    ];
    for (const [text, encoding] of cases) expect(out.tryWrite(text, encoding)).toBe(true);
    await out.flush();
    const expected = Buffer.concat(cases.map(([text, encoding]) => Buffer.from(text, encoding)));
    expect(Buffer.concat(inner.writes)).toEqual(expected);
    await out.close();
  });

  test('over a TcpStream: one send per job, from a pool buffer, every byte in order', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const held = rt.counters().buffersHeld;
    const out = new BufWriter(client);
    expect(rt.counters().buffersHeld).toBe(held + 1);
    const sends: number[] = [];
    const writeAll = client.writeAll.bind(client);
    client.writeAll = ((buf: Uint8Array, length?: number) => {
      sends.push(length ?? buf.length);
      return writeAll(buf, length as number);
    }) as typeof client.writeAll;
    for (let i = 0; i < 10; i++) await out.write(Buffer.from(`part ${i};`));
    await out.flush();
    expect(sends).toEqual([Buffer.byteLength(Array.from({ length: 10 }, (_, i) => `part ${i};`).join(''))]);
    const payload = pattern(100_000, 2); // larger than the buffer: straight to the stream, after what is buffered
    out.tryWrite('head:');
    await out.write(payload);
    await out.shutdown(); // flushes, then FIN
    const got: Buffer[] = [];
    const buf = new Uint8Array(65536);
    for (let [n] = await server.read(buf); n > 0; [n] = await server.read(buf))
      got.push(Buffer.from(buf.subarray(0, n)));
    const all = Buffer.concat(got);
    expect(all.subarray(0, 75).toString()).toBe(`${Array.from({ length: 10 }, (_, i) => `part ${i};`).join('')}head:`);
    expect(all.subarray(75).equals(payload)).toBe(true);
    expect(out.bytesWritten).toBe(all.length);
    await out.close();
    expect(rt.counters().buffersHeld).toBe(held);
    await Promise.all([server.close(), listener.close()]);
  });

  test('many small writes past the capacity keep their order (back-pressure through a second buffer)', async () => {
    const inner = new MemoryStream(undefined, { writeDelayMs: 1 });
    const out = new BufWriter(inner, { capacity: 100 });
    const expected: string[] = [];
    for (let i = 0; i < 500; i++) {
      const s = `<${i}>`;
      expected.push(s);
      await out.write(Buffer.from(s));
    }
    await out.flush();
    expect(inner.written.toString()).toBe(expected.join(''));
    expect(inner.writes.every((w) => w.length <= 100)).toBe(true);
    expect(inner.writes.length).toBeLessThan(100);
    expect(out.tryWrite('x'.repeat(101))).toBe(false); // never fits: false, nothing buffered
    expect(out.buffered).toBe(0);
    await out.close();
  });

  test('cork: false sends only on flush; a failed send is sticky and reported by the next call', async () => {
    const inner = new MemoryStream();
    const out = new BufWriter(inner, { cork: false });
    await out.write(Buffer.from('x'));
    await tick();
    expect(inner.writes).toHaveLength(0);
    await out.flush();
    expect(inner.writes.map(String)).toEqual(['x']);

    const broken = new MemoryStream(undefined, {
      failWrites: Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
    });
    const w = new BufWriter(broken);
    await w.write(Buffer.from('lost'));
    await tick(); // the corked flush fails
    expect((await rejection(w.write(Buffer.from('more')))).code).toBe('EPIPE');
    expect((await rejection(w.flush())).code).toBe('EPIPE');
    expect((await rejection(w.shutdown())).code).toBe('EPIPE');
    expect(() => w.tryWrite('x')).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    await w.close(); // closing anyway
    expect(broken.closed).toBe(1);
  });

  test('release gives pool buffers back at once, even with a flush in flight; then calls reject', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const out = new BufWriter(client);
    out.tryWrite('a'.repeat(3000));
    const flushing = out.flush();
    out.tryWrite('b'); // the second buffer
    out.release();
    await flushing.catch(() => {});
    expect((await rejection(out.write(Buffer.from('x')))).code).toBe('ERR_SOCKET_CLOSED');
    await Promise.all([client.close(), server.close(), listener.close()]);
  });
});
