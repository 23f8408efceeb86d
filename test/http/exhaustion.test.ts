// More connections than the pool has buffers for: each connection takes a
// read and a write buffer from the pool while it can, plain buffers after
// (the stream then copies through the pool); nothing fails, nothing leaks.
import { Pool } from 'undici';
import { type Runtime, serve } from '../../src/index';
import { expectClean, makeRuntime } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 24, recvBuffers: 0 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('60 concurrent keep-alive connections on a 24-buffer pool are all served, twice', async () => {
  const server = await serve({}, async (req, res) => res.end(`${req.path} ${(await req.bytes()).length}`));
  const pool = new Pool(`http://127.0.0.1:${server.address().port}`, { connections: 60, pipelining: 1 });
  try {
    for (let round = 0; round < 2; round++) {
      const replies = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const r = await pool.request({ path: `/${i}`, method: 'POST', body: Buffer.alloc(30_000, i) });
          return r.body.text();
        }),
      );
      expect(replies).toEqual(Array.from({ length: 60 }, (_, i) => `/${i} 30000`));
    }
    expect(server.connections).toBeGreaterThan(24 / 2);
  } finally {
    await pool.close();
    await server.close();
  }
});
