// The simulation host and its world: percore programs, unchanged, on
// simulated hosts; TCP's behaviours; the virtual clock; determinism.
import {
  copy,
  type PercoreError,
  type SimHost,
  simulate,
  TcpListener,
  TcpStream,
  timeout,
  type World,
} from '../../src/index';
import { WHOLE as CLEAN, wholeState as held } from '../support/helpers';

/** An echo server on `host`, port 7000, serving `connections` connections with read/writeAll. */
function echoServer(host: SimHost, connections = 1): Promise<void> {
  return host.run(async () => {
    const listener = await TcpListener.bind(`${host.ip}:7000`);
    const served: Promise<void>[] = [];
    for (let i = 0; i < connections; i++) {
      const stream = await listener.accept();
      served.push(
        (async () => {
          const buf = Buffer.alloc(1000);
          for (;;) {
            const [n] = await stream.read(buf);
            if (n === 0) break;
            await stream.writeAll(buf.subarray(0, n));
          }
          await stream.close();
        })(),
      );
    }
    await Promise.all(served);
    await listener.close();
  });
}

/** Sends `messages` and reads each echo back in full; returns what came back. */
function echoClient(host: SimHost, server: string, messages: string[]): Promise<string> {
  return host.run(async () => {
    const stream = await TcpStream.connect(`${server}:7000`);
    let got = '';
    for (const m of messages) {
      await stream.writeAll(Buffer.from(m));
      const [, buf] = await stream.readExact(Buffer.alloc(m.length));
      got += buf.toString();
    }
    await stream.shutdown();
    const [n] = await stream.read(Buffer.alloc(1));
    expect(n).toBe(0);
    await stream.close();
    return got;
  });
}

async function echoScenario(world: World): Promise<string> {
  const server = world.host('server');
  const client = world.host('client');
  const serving = echoServer(server);
  const messages = Array.from({ length: 50 }, (_, i) => `message ${i} `.repeat(1 + (i % 7)));
  const got = await echoClient(client, server.ip, messages);
  expect(got).toBe(messages.join(''));
  await serving;
  expect(held(server.runtime)).toEqual(CLEAN);
  expect(held(client.runtime)).toEqual(CLEAN);
  return got;
}

describe('the simulation runs percore programs unchanged', () => {
  test('an echo server and a client on two hosts', async () => {
    const run = await simulate({ seed: 1 }, echoScenario);
    expect(run.value.length).toBeGreaterThan(0);
    expect(run.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(run.steps).toBeGreaterThan(100);
  });

  test('the same seed gives the same trace hash; another seed another one', async () => {
    const a = await simulate({ seed: 42 }, echoScenario);
    const b = await simulate({ seed: 42 }, echoScenario);
    const c = await simulate({ seed: 43 }, echoScenario);
    expect(b.hash).toBe(a.hash);
    expect(b.time).toBe(a.time);
    expect(b.steps).toBe(a.steps);
    expect(c.hash).not.toBe(a.hash);
  });

  test('the virtual clock jumps: an hour of sleep is one event', async () => {
    const run = await simulate({ seed: 3 }, (world) =>
      world.host('a').run(async (rt) => {
        const before = rt.now();
        await rt.sleep(3_600_000);
        await timeout(60_000, new Promise(() => {})).catch((err: PercoreError) => expect(err.code).toBe('ETIMEDOUT'));
        return rt.now() - before;
      }),
    );
    expect(run.value).toBeGreaterThanOrEqual(3_660_000);
    expect(run.value).toBeLessThan(3_660_010);
    expect(run.steps).toBeLessThan(50);
  });

  test("outside simulate(), runtimes on 'sim' share one simulated machine at 127.0.0.1, in real time", async () => {
    const { Runtime } = await import('../../src/index');
    const a = new Runtime({ driver: 'sim', buffers: 8 });
    const b = new Runtime({ driver: 'sim', buffers: 8 });
    try {
      expect(a.driver).toBe('sim');
      const listener = await TcpListener.bind('127.0.0.1:0', { runtime: a });
      const [client, server] = await Promise.all([
        TcpStream.connect(listener.localAddress(), { runtime: b }),
        listener.accept(),
      ]);
      await client.writeAll(Buffer.from('over the machine'));
      const [n, buf] = await server.readExact(Buffer.alloc(16));
      expect(Buffer.from(buf.subarray(0, n)).toString()).toBe('over the machine');
      const start = performance.now();
      await b.sleep(20);
      expect(performance.now() - start).toBeGreaterThanOrEqual(19); // real time, not virtual
      await Promise.all([client.close(), server.close(), listener.close()]);
      expect(held(a)).toEqual(CLEAN);
      expect(held(b)).toEqual(CLEAN);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('TCP in the simulated kernel', () => {
  test('a port with no listener refuses; a host that does not exist times out after the SYN retries', async () => {
    await simulate({ seed: 5 }, async (world) => {
      world.host('server');
      const client = world.host('client');
      await client.run(async (rt) => {
        await expect(TcpStream.connect('10.0.0.1:9')).rejects.toMatchObject({ code: 'ECONNREFUSED', port: 9 });
        const start = rt.now();
        await expect(TcpStream.connect('10.9.9.9:80')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
        expect(rt.now() - start).toBeGreaterThanOrEqual(127_000);
        expect(held(rt)).toEqual(CLEAN);
      });
    });
  });

  test('a small window holds the writer back until the reader reads (back-pressure), and nothing is lost', async () => {
    await simulate({ seed: 6, window: 1024 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      const data = Buffer.alloc(200_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
      let readerStarted = -1;
      const receiving = server.run(async (rt) => {
        const listener = await TcpListener.bind(`${server.ip}:7000`);
        const stream = await listener.accept();
        await rt.sleep(10_000); // the writer must wait for us
        readerStarted = rt.now();
        const got: Buffer[] = [];
        const buf = Buffer.alloc(3000);
        for (;;) {
          const [n] = await stream.read(buf);
          if (n === 0) break;
          got.push(Buffer.from(buf.subarray(0, n)));
        }
        await stream.close();
        await listener.close();
        return Buffer.concat(got);
      });
      const sentAt = await client.run(async (rt) => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        await stream.writeAll(data);
        const at = rt.now();
        await stream.close();
        return at;
      });
      expect(sentAt).toBeGreaterThan(readerStarted);
      expect((await receiving).equals(data)).toBe(true);
    });
  });

  test('half-close: the server reads the end of the stream and still answers', async () => {
    await simulate({ seed: 7 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      server.run(async () => {
        const listener = await TcpListener.bind(`${server.ip}:7000`);
        const stream = await listener.accept();
        const buf = Buffer.alloc(100);
        let total = 0;
        for (;;) {
          const [n] = await stream.read(buf);
          if (n === 0) break;
          total += n;
        }
        await stream.writeAll(Buffer.from(`got ${total}`));
        await stream.close();
        await listener.close();
      });
      const answer = await client.run(async () => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        await stream.writeAll(Buffer.alloc(5000, 1));
        await stream.shutdown('write');
        const [n, buf] = await stream.readExact(Buffer.alloc(8));
        expect((await stream.read(Buffer.alloc(8)))[0]).toBe(0);
        await stream.close();
        return buf.subarray(0, n).toString();
      });
      expect(answer).toBe('got 5000');
    });
  });

  test('a close with bytes unread resets the connection: the peer sees ECONNRESET', async () => {
    await simulate({ seed: 8 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      const seen = server.run(async () => {
        const listener = await TcpListener.bind(`${server.ip}:7000`);
        const stream = await listener.accept();
        await stream.writeAll(Buffer.from('unread'));
        const err = await stream.read(Buffer.alloc(10)).catch((e: PercoreError) => e);
        await stream.close();
        await listener.close();
        return (err as PercoreError).code;
      });
      await client.run(async (rt) => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        await rt.sleep(100); // the bytes arrive, unread
        await stream.close();
      });
      expect(await seen).toBe('ECONNRESET');
    });
  });
});

describe('recv(), copy() and cancellation under simulation', () => {
  test('recv() with the recv set, and every recv-set buffer comes back', async () => {
    await simulate({ seed: 9 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      const total = server.run(async (rt) => {
        const listener = await TcpListener.bind(`${server.ip}:7000`);
        const stream = await listener.accept();
        let n = 0;
        for (;;) {
          const buf = await stream.recv();
          if (buf === null) break;
          n += buf.length;
          rt.release(buf);
        }
        await stream.close();
        await listener.close();
        expect(held(rt)).toEqual(CLEAN);
        return n;
      });
      await client.run(async () => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        for (let i = 0; i < 20; i++) await stream.writeAll(Buffer.alloc(3000, i));
        await stream.close();
      });
      expect(await total).toBe(60_000);
    });
  });

  test('copy() in a proxy host relays both ways (the core relay: RECV, SEND, SHUTDOWN SQEs)', async () => {
    const run = await simulate({ seed: 10 }, async (world) => {
      const backend = world.host('backend');
      const proxy = world.host('proxy');
      const client = world.host('client');
      const serving = echoServer(backend);
      const relaying = proxy.run(async (rt) => {
        const listener = await TcpListener.bind(`${proxy.ip}:7000`);
        const inbound = await listener.accept();
        const outbound = await TcpStream.connect(`${backend.ip}:7000`);
        const [up, down] = await Promise.all([
          copy(inbound, outbound, { end: true }),
          copy(outbound, inbound, { end: true }),
        ]);
        await Promise.all([inbound.close(), outbound.close(), listener.close()]);
        expect(held(rt)).toEqual(CLEAN);
        return up + down;
      });
      const messages = Array.from({ length: 20 }, (_, i) => `through the proxy ${i}`);
      expect(await echoClient(client, proxy.ip, messages)).toBe(messages.join(''));
      await serving;
      return relaying;
    });
    expect(run.value).toBe(2 * Array.from({ length: 20 }, (_, i) => `through the proxy ${i}`).join('').length);
  });

  test('a read given up by timeout loses nothing: the bytes go to the next read', async () => {
    await simulate({ seed: 11 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      server.run(async (rt) => {
        const listener = await TcpListener.bind(`${server.ip}:7000`);
        const stream = await listener.accept();
        await rt.sleep(5000);
        await stream.writeAll(Buffer.from('late'));
        await stream.close();
        await listener.close();
      });
      await client.run(async () => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        const err = await timeout(1000, stream.read(Buffer.alloc(10))).catch((e: PercoreError) => e);
        expect((err as PercoreError).code).toBe('ETIMEDOUT');
        const [n, buf] = await stream.readExact(Buffer.alloc(4));
        expect(buf.subarray(0, n).toString()).toBe('late');
        await stream.close();
      });
    });
  });
});
