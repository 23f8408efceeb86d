// Faults in the simulated world, and percore's contracts under them: many
// seeds of an echo with resets, refusals, short transfers, accept errors and
// partitions, each checked for lost or reordered bytes and for leaks.
import {
  FAULT_PROFILES,
  type PercoreError,
  type SimHost,
  simulate,
  TcpListener,
  TcpStream,
  type World,
} from '../../src/index';
import { CLEAN, heldCounts } from '../support/helpers';

/** An echo server that serves every connection until the scenario ends,
 * surviving whatever a connection does (reset, timeout). */
function resilientEcho(host: SimHost): void {
  host.run(async (rt) => {
    const listener = await TcpListener.bind(`${host.ip}:7000`);
    for await (const stream of listener) {
      (async () => {
        const buf = rt.buffer(1024);
        try {
          for (;;) {
            const [n] = await stream.read(buf);
            if (n === 0) break;
            await stream.writeAll(buf.subarray(0, n));
          }
        } catch {
          // a reset or timed-out peer: the connection ends, the server goes on
        } finally {
          rt.release(buf);
          await stream.close();
        }
      })();
    }
  });
}

interface ClientReport {
  sent: number;
  echoed: number;
  error: string | undefined;
}

/** Sends `rounds` messages and reads each echo; every byte sent either comes
 * back in order or the connection reports an error. */
function checkingClient(host: SimHost, server: string, rounds: number, tag: number): Promise<ClientReport> {
  return host.run(async () => {
    const report: ClientReport = { sent: 0, echoed: 0, error: undefined };
    let stream: TcpStream | undefined;
    try {
      stream = await TcpStream.connect(`${server}:7000`);
      for (let i = 0; i < rounds; i++) {
        const msg = Buffer.alloc(1 + ((i * 37 + tag) % 3000), (i + tag) & 0xff);
        await stream.writeAll(msg);
        report.sent += msg.length;
        const [n, back] = await stream.readExact(Buffer.alloc(msg.length));
        if (n !== msg.length) throw new Error(`short echo: ${n} of ${msg.length}`);
        if (!Buffer.from(back).equals(msg)) throw new Error(`echo ${i} of client ${tag} came back changed`);
        report.echoed += n;
      }
    } catch (err) {
      const code = (err as PercoreError).code;
      if (code === undefined) throw err; // a changed or short echo: a real failure
      report.error = code;
    } finally {
      await stream?.close();
    }
    return report;
  });
}

async function chaosScenario(world: World): Promise<ClientReport[]> {
  const server = world.host('server', { runtime: { entries: 512, buffers: 128, bufferSize: 4096, recvBuffers: 32 } });
  resilientEcho(server);
  const clients = [world.host('c1'), world.host('c2'), world.host('c3')];
  const reports = await Promise.all(
    clients.flatMap((c, i) => [checkingClient(c, server.ip, 20, 2 * i), checkingClient(c, server.ip, 20, 2 * i + 1)]),
  );
  for (const c of clients) expect(heldCounts(c.runtime)).toEqual(CLEAN);
  return reports;
}

describe('faults', () => {
  test('the profiles name rates a world accepts; bad rates are refused', async () => {
    expect(Object.keys(FAULT_PROFILES)).toEqual(['none', 'flaky', 'chaos', 'swarm']);
    await expect(simulate({ seed: 1, faults: { reset: 2 } }, () => 0)).rejects.toThrow(/probability/);
    await expect(simulate({ seed: 1, faults: 'nope' }, () => 0)).rejects.toThrow(/unknown fault profile/);
  });

  test('swarm: each seed draws its own fault rates, the same ones every time', async () => {
    const rates = async (seed: number) => (await simulate({ seed, faults: 'swarm' }, (world) => world.faults)).value;
    const drawn = await Promise.all([1, 2, 3, 4, 5, 6].map(rates));
    expect(new Set(drawn.map((r) => JSON.stringify(r))).size).toBe(6);
    expect(await rates(3)).toEqual(drawn[2]);
    for (const r of drawn) expect(r.reset).toBeLessThanOrEqual(FAULT_PROFILES.chaos.reset!);
  });

  test('under chaos, across 40 seeds, no echo is lost, changed or reordered, and clients end clean', async () => {
    const errors = new Map<string, number>();
    let echoed = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const run = await simulate({ seed, faults: 'chaos' }, chaosScenario);
      for (const r of run.value) {
        // Without an error every byte came back; with one, what came back is a prefix.
        if (r.error === undefined) expect(r.echoed).toBe(r.sent);
        else errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
        expect(r.echoed).toBeLessThanOrEqual(r.sent);
        echoed += r.echoed;
      }
    }
    expect(echoed).toBeGreaterThan(0);
    // The faults struck: some connections were reset or refused.
    expect([...errors.keys()].some((code) => code === 'ECONNRESET' || code === 'ECONNREFUSED')).toBe(true);
  });

  test('a chaos run replays: the same seed, the same hash and the same outcome', async () => {
    const a = await simulate({ seed: 'replay-me', faults: 'chaos' }, chaosScenario);
    const b = await simulate({ seed: 'replay-me', faults: 'chaos' }, chaosScenario);
    expect(b.hash).toBe(a.hash);
    expect(b.value).toEqual(a.value);
  });

  test('accept errors (EMFILE, ENOMEM, …) are counted by the listener, which backs off and goes on serving', async () => {
    await simulate({ seed: 4, faults: { acceptError: 0.5 } }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      let listener: TcpListener | undefined;
      const serving = server.run(async () => {
        listener = await TcpListener.bind(`${server.ip}:7000`);
        for (let i = 0; i < 10; i++) {
          const stream = await listener.accept();
          await stream.writeAll(Buffer.from('x'));
          await stream.close();
        }
        await listener.close();
      });
      for (let i = 0; i < 10; i++) {
        await client.run(async () => {
          const stream = await TcpStream.connect(`${server.ip}:7000`);
          expect((await stream.readExact(Buffer.alloc(1)))[0]).toBe(1);
          await stream.close();
        });
      }
      await serving;
      expect(listener!.acceptErrors).toBeGreaterThan(0);
      expect(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS']).toContain(listener!.lastAcceptError!.code);
      expect(heldCounts(server.runtime)).toEqual(CLEAN);
    });
  });

  test('a partition holds bytes until it heals; one that lasts times the connection out', async () => {
    await simulate({ seed: 12 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      resilientEcho(server);
      await client.run(async (rt) => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        world.partition('client', 'server');
        await stream.writeAll(Buffer.from('held'));
        const reading = stream.readExact(Buffer.alloc(4));
        await rt.sleep(30_000);
        world.heal('client', 'server');
        const [n, buf] = await reading;
        expect(buf.subarray(0, n).toString()).toBe('held');
        world.partition('client', 'server', { oneWay: true });
        await stream.writeAll(Buffer.from('lost'));
        const err = await stream.readExact(Buffer.alloc(4)).catch((e: PercoreError) => e);
        expect((err as PercoreError).code).toBe('ETIMEDOUT');
        expect(rt.now()).toBeGreaterThan(150_000);
        await stream.close();
      });
    });
  });

  test('a crashed host loses its sockets silently: the peer learns by RST when it sends', async () => {
    await simulate({ seed: 13 }, async (world) => {
      const server = world.host('server');
      const client = world.host('client');
      resilientEcho(server);
      await client.run(async (rt) => {
        const stream = await TcpStream.connect(`${server.ip}:7000`);
        await stream.writeAll(Buffer.from('one'));
        await stream.readExact(Buffer.alloc(3));
        server.crash();
        await rt.sleep(1000);
        await stream.writeAll(Buffer.from('two')); // accepted by our kernel: the RST comes back later
        const err = await stream.read(Buffer.alloc(3)).catch((e: PercoreError) => e);
        expect((err as PercoreError).code).toBe('ECONNRESET');
        await stream.close();
        // The restarted server serves again.
        resilientEcho(server);
        await rt.sleep(10);
        const again = await TcpStream.connect(`${server.ip}:7000`);
        await again.writeAll(Buffer.from('three'));
        const [n, buf] = await again.readExact(Buffer.alloc(5));
        expect(buf.subarray(0, n).toString()).toBe('three');
        await again.close();
      });
    });
  });
});
