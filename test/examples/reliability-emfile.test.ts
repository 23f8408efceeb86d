// Issue 11, item 4d: a server out of file descriptors keeps serving. The echo
// example runs under `ulimit -n 64`; a burst of clients makes accept fail with
// EMFILE. The listener counts the error, backs off and goes on: the `for
// await` loop over it does not end, and later clients are served.
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { netRoundTrip, pattern } from '../support/helpers';

const ECHO = path.resolve(__dirname, '../../dist/examples/echo.js');

function startUnderUlimit(limit: number): {
  child: ChildProcess;
  port: Promise<number>;
  exited: Promise<number | null>;
} {
  const child = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${limit}; exec "$0" "$@"`,
      process.execPath,
      ECHO,
      '--port',
      '0',
      '--threads',
      '1',
      '--buffers',
      '256',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`echo exited with ${code}: ${stderr}`)));
  });
  return { child, port, exited };
}

/** Opens a connection and resolves once it is established (or failed). */
function openClient(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(s));
  });
}

test('under ulimit -n 64, a burst of clients does not stop the echo: later clients are served', async () => {
  const { child, port: portReady, exited } = startUnderUlimit(64);
  const port = await portReady;
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  // More connections than the process has descriptors: the kernel completes
  // them (backlog 511), the server's accept runs out of fds.
  const burst = await Promise.all(Array.from({ length: 120 }, () => openClient(port)));
  // Every burst client that was accepted is echoed; the rest wait in the backlog.
  const echoed = await Promise.all(
    burst.slice(0, 8).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('data', () => resolve());
          s.once('close', () => resolve());
          s.write('x');
        }),
    ),
  );
  expect(echoed).toHaveLength(8);
  const closed = burst.map((s) => new Promise((r) => s.once('close', r)));
  for (const s of burst) s.destroy();
  await Promise.all(closed);
  // The server is still running and serves new clients.
  const payload = pattern(100_000, 5);
  expect((await netRoundTrip(port, payload)).equals(payload)).toBe(true);
  expect((await netRoundTrip(port, payload)).equals(payload)).toBe(true);
  expect(alive).toBe(true);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
