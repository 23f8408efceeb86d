// The echo example as a user runs it (`npm start`): a separate process, served
// by a client that is not percore's own (node:net), every byte checked.
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { pattern } from '../api/helpers';

const ECHO = path.resolve(__dirname, '../../dist/examples/echo.js');

function start(args: string[]): { child: ChildProcess; ready: Promise<{ line: string; port: number }> } {
  // env given explicitly: jest's sandboxed process.env (where the project's
  // setup file set PERCORE_DRIVER) is not what spawn passes on by default.
  const child = spawn(process.execPath, [ECHO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  const ready = new Promise<{ line: string; port: number }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (\S+):(\d+) .*\n/m.exec(out);
      if (m) resolve({ line: out.split('\n')[0], port: Number(m[2]) });
    });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`echo exited with ${code}: ${err}`)));
  });
  return { child, ready };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const socket = net.connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('data', (d) => { chunks.push(d); got += d.length; });
    socket.on('end', () => { expect(got).toBe(payload.length); resolve(Buffer.concat(chunks)); });
    socket.on('error', reject);
  });
}

test('serves a node:net client from 1 B to 1 MiB, then exits 0 on SIGTERM', async () => {
  const { child, ready } = start(['--port', '0']);
  const { line, port } = await ready;
  // The epoll project runs this file with PERCORE_DRIVER=epoll (test/setup-epoll.ts).
  const driver = process.env.PERCORE_DRIVER === 'epoll' ? 'epoll' : 'io_uring';
  expect(line).toMatch(new RegExp(`^listening on 127\\.0\\.0\\.1:${port} \\(driver=${driver}, threads=1, pid=${child.pid}\\)$`));
  for (const size of [1, 2, 100, 8191, 8192, 8193, 65536, 1 << 20]) {
    const payload = pattern(size, size);
    const echoed = await roundTrip(port, payload);
    expect(echoed.equals(payload)).toBe(true);
  }
  // Several clients at once, one left open when the signal comes.
  const open = net.connect(port, '127.0.0.1');
  await new Promise((r) => open.on('connect', r));
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => roundTrip(port, pattern(5000 + i, i + 7))));
  results.forEach((r, i) => expect(r.equals(pattern(5000 + i, i + 7))).toBe(true));
  const exited = exitOf(child);
  const closed = new Promise((r) => open.on('close', r));
  open.on('error', () => {});
  child.kill('SIGTERM');
  expect((await exited).code).toBe(0);
  await closed; // the server closed the connection it still had
});

test.each([
  [['--port', 'abc'], /--port needs a whole number/],
  [['--port', '70000'], /--port must be between 0 and 65535/],
  [['--threads', '0'], /--threads must be between 1/],
  [['--driver', 'kqueue2'], /--driver must be auto, uring, epoll or kqueue/],
  [['--buffer-size', '100'], /multiple of 64/],
  [['--frobnicate'], /unknown argument/],
])('a bad flag %j prints usage and exits 2', async (args, message) => {
  const child = spawn(process.execPath, [ECHO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stderr } = await exitOf(child);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr).toMatch(/usage: npm start/);
});

test('--driver epoll serves and names its driver; --driver kqueue on Linux exits 1 naming why', async () => {
  const { child, ready } = start(['--port', '0', '--driver', 'epoll']);
  const { line, port } = await ready;
  expect(line).toMatch(/\(driver=epoll, threads=1, pid=\d+\)$/);
  const payload = pattern(100_000, 3);
  expect((await roundTrip(port, payload)).equals(payload)).toBe(true);
  const exited = exitOf(child);
  child.kill('SIGTERM');
  expect((await exited).code).toBe(0);

  const kq = spawn(process.execPath, [ECHO, '--port', '0', '--driver', 'kqueue'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stderr } = await exitOf(kq);
  expect(code).toBe(1);
  expect(stderr).toMatch(/kqueue is only built on macOS\/BSD/);
});
