/**
 * A TCP proxy built on `copy()`, tested under simulation: clients reach an
 * echo backend through it while the link between proxy and backend is cut
 * and healed, and (with `--faults chaos`) connections are reset, refused and
 * cut short. The scenario checks what a proxy owes its clients: every byte
 * that comes back is the byte sent, in order; a connection that fails says
 * so; and once the network heals, new connections are served again.
 *
 *   npm run build && npm run sim -- --runs 100 --faults chaos dist/examples/sim-proxy.js
 */
import { copy, type PercoreError, type SimHost, TcpListener, TcpStream, timeout, type World } from '../src/index';

/** The proxy: each inbound connection relayed both ways to the backend. */
function proxy(host: SimHost, backend: string): void {
  host.run(async () => {
    const listener = await TcpListener.bind(`${host.ip}:8000`);
    for await (const inbound of listener) {
      let outbound: TcpStream | undefined;
      (async () => {
        outbound = await timeout(2000, TcpStream.connect(`${backend}:7000`));
        await Promise.all([copy(inbound, outbound, { end: true }), copy(outbound, inbound, { end: true })]);
      })()
        .catch(() => {}) // a failed relay ends both connections; the client hears of it
        .finally(() => Promise.all([inbound.close(), outbound?.close()]));
    }
  });
}

function echo(host: SimHost): void {
  host.run(async () => {
    const listener = await TcpListener.bind(`${host.ip}:7000`);
    for await (const stream of listener)
      copy(stream, stream, { end: true })
        .catch(() => {})
        .finally(() => stream.close());
  });
}

/** One client session: `rounds` messages through the proxy, each echo checked. True when every one came back. */
async function session(proxyIp: string, rounds: number, tag: number): Promise<boolean> {
  let stream: TcpStream | undefined;
  try {
    stream = await timeout(5000, TcpStream.connect(`${proxyIp}:8000`));
    for (let i = 0; i < rounds; i++) {
      const message = Buffer.alloc(100 + ((i * 97 + tag) % 1500), (i + tag) & 0xff);
      await stream.writeAll(message);
      const [n, back] = await timeout(5000, stream.readExact(Buffer.alloc(message.length)));
      if (n < message.length) return false; // the proxy ended the connection: it said so
      if (!Buffer.from(back).equals(message)) throw new Error(`client ${tag}: echo ${i} came back changed`);
    }
    return true;
  } catch (err) {
    if ((err as PercoreError).code === undefined) throw err;
    return false;
  } finally {
    await stream?.close();
  }
}

export async function scenario(world: World): Promise<number> {
  const backend = world.host('backend');
  const middle = world.host('proxy');
  const client = world.host('client');
  echo(backend);
  proxy(middle, backend.ip);
  const sessions: Promise<boolean>[] = [];
  for (let i = 0; i < 4; i++) sessions.push(client.run(() => session(middle.ip, 10, i)));
  await world.sleep(5);
  world.partition('proxy', 'backend');
  await world.sleep(3000);
  world.heal('proxy', 'backend');
  await Promise.all(sessions);
  // Healed: a new session is served, unless a fault of this seed strikes it too.
  let served = 0;
  for (let i = 0; i < 3; i++) if (await client.run(() => session(middle.ip, 3, 10 + i))) served++;
  if (world.faults.reset === 0 && world.faults.refuse === 0 && served !== 3)
    throw new Error(`after the heal, only ${served} of 3 sessions were served`);
  return served;
}
