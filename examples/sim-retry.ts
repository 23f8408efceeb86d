/**
 * A deliberately buggy retry loop, for `percore sim` to catch.
 *
 * The client increments a counter on the server: it sends `inc`, waits 50 ms
 * for `ok`, and on a timeout sends `inc` again on a new connection. The bug:
 * a timeout does not mean the first `inc` was lost, only that its answer is
 * late, so under latency spikes the counter can be incremented twice. The
 * scenario checks that it was incremented once; with `--faults flaky` some
 * seeds fail, and the runner prints the line that replays the first of them:
 *
 *   npm run build && npm run sim -- --runs 200 --faults flaky dist/examples/sim-retry.js
 *
 * (`npx percore sim …` where percore is installed as a dependency.)
 */
import { type PercoreError, TcpListener, TcpStream, timeout, type World } from '../src/index';

export async function scenario(world: World): Promise<number> {
  const server = world.host('server');
  const client = world.host('client');
  let counter = 0;
  server.run(async () => {
    const listener = await TcpListener.bind(`${server.ip}:7000`);
    for await (const stream of listener) {
      (async () => {
        const [n] = await stream.readExact(Buffer.alloc(3));
        if (n === 3) counter++;
        await stream.writeAll(Buffer.from('ok'));
      })()
        .catch(() => {})
        .finally(() => stream.close());
    }
  });
  await client.run(async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const stream = await TcpStream.connect(`${server.ip}:7000`);
      try {
        await stream.writeAll(Buffer.from('inc'));
        await timeout(50, stream.readExact(Buffer.alloc(2)));
        return; // acknowledged
      } catch (err) {
        if ((err as PercoreError).code !== 'ETIMEDOUT') throw err;
        // BUG: the first `inc` may still arrive; retrying is not idempotent.
      } finally {
        await stream.close();
      }
    }
  });
  await world.sleep(10_000); // let every late request land
  if (counter !== 1) throw new Error(`the counter was incremented ${counter} times, not once`);
  return counter;
}
