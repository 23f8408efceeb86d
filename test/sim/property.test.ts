// Property runs: percore's own contracts under many seeds of a proxy built on
// copy() (the core relay) between clients and an echo, all on recv() with
// small recv sets, with and without faults. After every run: no byte lost,
// changed or reordered (what came back is a prefix of what was sent, all of
// it without an error), nothing held (ops, buffers, descriptors, timers),
// every recv-set buffer back in the pick set, and the core's invariants whole.
import { copy, type PercoreError, simulate, TcpListener, TcpStream, timeout, type World } from '../../src/index';
import { wholeState as state, WHOLE } from '../support/helpers';

const SMALL = { entries: 64, buffers: 16, bufferSize: 256, recvBuffers: 3 };

interface Report {
  sent: number;
  echoed: number;
  error: string | undefined;
  state: Record<string, number>;
}

function startServers(world: World): void {
  const backend = world.host('backend', { runtime: SMALL });
  const proxy = world.host('proxy', { runtime: SMALL });
  backend.run(async (rt) => {
    const listener = await TcpListener.bind(`${backend.ip}:7000`);
    for await (const s of listener) {
      (async () => {
        for (;;) {
          const b = await s.recv();
          if (b === null) break;
          try {
            await s.writeAll(b);
          } finally {
            rt.release(b);
          }
        }
      })()
        .catch(() => {})
        .finally(() => s.close());
    }
  });
  proxy.run(async () => {
    const listener = await TcpListener.bind(`${proxy.ip}:7000`);
    for await (const inbound of listener) {
      let outbound: TcpStream | undefined;
      (async () => {
        outbound = await timeout(5000, TcpStream.connect(`${backend.ip}:7000`));
        await Promise.all([copy(inbound, outbound, { end: true }), copy(outbound, inbound, { end: true })]);
      })()
        .catch(() => {})
        .finally(() => Promise.all([inbound.close(), outbound?.close()]));
    }
  });
}

function client(world: World, name: string, tag: number): Promise<Report> {
  const host = world.host(name, { runtime: { ...SMALL, bufferSize: 64 * (1 + tag) } });
  return host.run(async (rt) => {
    const report: Report = { sent: 0, echoed: 0, error: undefined, state: {} };
    let stream: TcpStream | undefined;
    try {
      stream = await TcpStream.connect('10.0.0.2:7000');
      for (let i = 0; i < 12; i++) {
        const fill = (i * 3 + tag) & 0xff;
        const size = 1 + ((i * 101 + tag * 13) % 2000);
        await stream.writeAll(Buffer.alloc(size, fill));
        report.sent += size;
        for (let got = 0; got < size; ) {
          const b = await timeout(30_000, stream.recv());
          if (b === null) throw Object.assign(new Error('end of stream'), { code: 'EOF' });
          if (got + b.length > size || b.some((x) => x !== fill))
            throw new Error(`bytes changed (client ${tag}, message ${i})`);
          got += b.length;
          report.echoed += b.length;
          rt.release(b);
        }
      }
    } catch (err) {
      const code = (err as PercoreError).code;
      if (code === undefined) throw err;
      report.error = code;
    } finally {
      await stream?.close();
    }
    report.state = state(rt);
    return report;
  });
}

async function scenario(world: World): Promise<Report[]> {
  startServers(world);
  const reports = await Promise.all([client(world, 'c1', 0), client(world, 'c2', 1), client(world, 'c3', 2)]);
  // The servers, once every connection has wound down, hold only their listener and its accept.
  await world.sleep(200_000);
  for (const name of ['backend', 'proxy']) {
    const rt = world.host(name).runtime;
    expect(state(rt)).toEqual({ ...WHOLE, opsInFlight: 1, openFds: 1 });
  }
  return reports;
}

test.each([
  ['none', 20],
  ['flaky', 20],
  ['chaos', 30],
  ['swarm', 30],
])('with faults %s, %i seeds: nothing lost, changed, reordered or leaked; the core whole', async (faults, seeds) => {
  const outcomes = new Map<string, number>();
  for (let seed = 1; seed <= seeds; seed++) {
    const run = await simulate({ seed, faults }, scenario);
    for (const r of run.value) {
      outcomes.set(r.error ?? 'ok', (outcomes.get(r.error ?? 'ok') ?? 0) + 1);
      expect(r.state).toEqual(WHOLE);
      expect(r.echoed).toBeLessThanOrEqual(r.sent);
      if (r.error === undefined) expect(r.echoed).toBe(r.sent);
    }
  }
  expect(outcomes.get('ok')).toBeGreaterThan(0);
  if (faults === 'none' || faults === 'flaky') expect([...outcomes.keys()]).toEqual(['ok']);
});
