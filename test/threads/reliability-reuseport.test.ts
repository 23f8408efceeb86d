// Issue 11, item 5: SO_REUSEPORT is asked for, not the default. A taken port
// is EADDRINUSE; start()'s threads share a port through ctx.bind, with port 0
// the one thread 0 got.
import { type Runtime, start, TcpListener } from '../../src/index';
import { expectClean, makeRuntime, netRoundTrip, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 64 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('bind() does not share a taken port by default: EADDRINUSE', async () => {
  const a = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const err = await rejection(TcpListener.bind({ host: '127.0.0.1', port: a.localAddress().port }, { runtime: rt }));
  expect(err.code).toBe('EADDRINUSE');
  // Asking for SO_REUSEPORT on both sides shares it.
  const b = await TcpListener.bind('127.0.0.1:0', { runtime: rt, reusePort: true });
  const c = await TcpListener.bind(
    { host: '127.0.0.1', port: b.localAddress().port },
    { runtime: rt, reusePort: true },
  );
  expect(c.localAddress().port).toBe(b.localAddress().port);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('ctx.bind with port 0: every thread listens on the port thread 0 got, and each serves', async () => {
  const ports: number[] = [];
  let port = 0;
  const launch = start(
    {
      threads: 3,
      buffers: 64,
      onReady: (infos) => {
        ports.push(...(infos as number[]));
        port = ports[0];
        void clients();
      },
    },
    async (ctx) => {
      const listener = await ctx.bind({ host: '127.0.0.1', port: 0 });
      ctx.signal.addEventListener('abort', () => void listener.close());
      ctx.ready(listener.localAddress().port);
      for await (const stream of listener) {
        void (async () => {
          const buf = await ctx.runtime.acquireBuffer();
          try {
            for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) await stream.writeAll(buf, n);
          } finally {
            ctx.runtime.release(buf);
            await stream.close();
          }
        })();
      }
    },
  );
  let done!: () => void;
  const served = new Promise<void>((r) => {
    done = r;
  });
  async function clients(): Promise<void> {
    const payload = pattern(1000, 9);
    const echoed = await Promise.all(Array.from({ length: 30 }, () => netRoundTrip(port, payload)));
    expect(echoed.every((e) => e.equals(payload))).toBe(true);
    done();
  }
  await served;
  launch.stop();
  await launch;
  expect(new Set(ports).size).toBe(1);
  expect(ports).toHaveLength(3);
});
