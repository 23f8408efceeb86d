// serveThreads: one server per thread on one port, each requiring the handler module.
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { serveThreads } from '../../src/index';

const HANDLER = path.join(__dirname, 'fixtures', 'thread-handler.js');

test('two threads serve one port; connections reach both; stop() closes them gracefully', async () => {
  let port = 0;
  let ready!: () => void;
  const listening = new Promise<void>((r) => {
    ready = r;
  });
  const launch = serveThreads(
    {
      threads: 2,
      port: 0,
      onReady: (infos) => {
        const ports = new Set((infos as { port: number }[]).map((i) => i.port));
        expect(ports.size).toBe(1);
        [port] = ports;
        ready();
      },
    },
    HANDLER,
  );
  const seen = new Set<string>();
  try {
    await listening;
    // Fresh connections until both threads have answered: SO_REUSEPORT spreads them by hash.
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const agent = new Agent({ connections: 1 });
      const r = await request(`http://127.0.0.1:${port}/p${i}`, { dispatcher: agent });
      const text = await r.body.text();
      expect(text).toMatch(new RegExp(`^thread \\d+ /p${i}$`));
      seen.add(text.split(' ')[1]);
      await agent.close();
    }
  } finally {
    launch.stop();
    await launch;
  }
  expect(seen.size).toBe(2); // two threads (their ids depend on what ran in this process before)
});

test('a handler module that cannot be loaded is refused before any thread starts', () => {
  expect(() => serveThreads({ threads: 1 }, path.join(__dirname, 'fixtures', 'missing.js'))).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
});
