// The echo example as a user runs it (`npm start`): a separate process, served
// by a client that is not percore's own (node:net), every byte checked.
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { netRoundTrip, pattern } from '../support/helpers';

const ECHO = path.resolve(__dirname, '../../dist/examples/echo.js');

// A test that fails can leave its server running (and jest waiting on it):
// every child still running after a test is killed.
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function start(args: string[]): { child: ChildProcess; ready: Promise<{ line: string; port: number }> } {
  // env given explicitly: jest's sandboxed process.env (where the project's
  // setup file set PERCORE_DRIVER) is not what spawn passes on by default.
  const child = spawn(process.execPath, [ECHO, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const ready = new Promise<{ line: string; port: number }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (\S+):(\d+) .*\n/m.exec(out);
      if (m) resolve({ line: out.split('\n')[0], port: Number(m[2]) });
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`echo exited with ${code}: ${err}`)));
  });
  return { child, ready };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

test('serves a node:net client from 1 B to 1 MiB on every core, then exits 0 on SIGTERM', async () => {
  // --threads defaults to the available cores; a connection still open at the
  // signal is closed at the shutdown deadline.
  const { child, ready } = start(['--port', '0', '--shutdown-timeout', '300']);
  const { line, port } = await ready;
  // The epoll project runs this file with PERCORE_DRIVER=epoll (test/setup-epoll.ts).
  const driver = process.env.PERCORE_DRIVER === 'epoll' ? 'epoll' : 'io_uring';
  expect(line).toMatch(
    new RegExp(
      `^listening on 127\\.0\\.0\\.1:${port} \\(driver=${driver}, threads=${os.availableParallelism()}, pid=${child.pid}\\)$`,
    ),
  );
  for (const size of [1, 2, 100, 8191, 8192, 8193, 65536, 1 << 20]) {
    const payload = pattern(size, size);
    const echoed = await netRoundTrip(port, payload);
    expect(echoed.equals(payload)).toBe(true);
  }
  // Several clients at once, one left open when the signal comes.
  const open = net.connect(port, '127.0.0.1');
  await new Promise((r) => open.on('connect', r));
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => netRoundTrip(port, pattern(5000 + i, i + 7))));
  results.forEach((r, i) => {
    expect(r.equals(pattern(5000 + i, i + 7))).toBe(true);
  });
  const exited = exitOf(child);
  const closed = new Promise((r) => open.on('close', r));
  open.on('error', () => {});
  child.kill('SIGTERM');
  expect((await exited).code).toBe(0);
  await closed; // the server closed the connection it still had
});

test.each(['recv', 'copy'])(
  '--io %s serves 1 B to 1 MiB and many idle connections, then exits 0 on SIGTERM',
  async (io) => {
    const { child, ready } = start([
      '--port',
      '0',
      '--threads',
      '1',
      '--io',
      io,
      '--buffers',
      '64',
      '--shutdown-timeout',
      '300',
    ]);
    const { port } = await ready;
    // More idle connections than recv buffers (32): waiting in recv() holds none.
    const idle = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
            s.on('error', () => {});
          }),
      ),
    );
    for (const size of [1, 100, 8192, 8193, 1 << 20]) {
      const payload = pattern(size, size);
      expect((await netRoundTrip(port, payload)).equals(payload)).toBe(true);
    }
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => netRoundTrip(port, pattern(5000 + i, i + 3))),
    );
    results.forEach((r, i) => {
      expect(r.equals(pattern(5000 + i, i + 3))).toBe(true);
    });
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
    for (const s of idle) s.destroy();
  },
);

test('--threads 2 --pin: SIGTERM lets an open connection finish, then exits 0 once it closes', async () => {
  // A shutdown timeout longer than any test: only the connection's close can end the process.
  const { child, ready } = start(['--port', '0', '--threads', '2', '--pin', '--shutdown-timeout', '600000']);
  const { line, port } = await ready;
  expect(line).toMatch(/\(driver=\w+, threads=2, pid=\d+\)$/);
  const open = net.connect(port, '127.0.0.1');
  await new Promise((r) => open.on('connect', r));
  // Served once before the signal: accepted by a thread, not waiting in a
  // listener's backlog (where the listener's close would reset it).
  const before = new Promise<Buffer>((resolve) => open.once('data', resolve));
  open.write('before the signal');
  expect((await before).toString()).toBe('before the signal');
  const events: string[] = [];
  const exited = exitOf(child).then((result) => {
    events.push('exit');
    return result;
  });
  child.kill('SIGTERM');
  // New connections are refused once every thread stopped accepting: wait
  // for that rather than for a time (the signal's handling is then certain).
  for (;;) {
    const outcome = await new Promise<string>((resolve) => {
      const late = net.connect(port, '127.0.0.1', () => {
        late.destroy();
        resolve('connected');
      });
      late.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    if (outcome === 'ECONNREFUSED') break;
    // Still accepting, or reset by a listener closing with it in its backlog.
    expect(['connected', 'ECONNRESET']).toContain(outcome);
    await new Promise((r) => setImmediate(r));
  }
  // Still served after the signal: the connection may finish.
  const echoed = new Promise<Buffer>((resolve) => open.once('data', resolve));
  open.write('after the signal');
  expect((await echoed).toString()).toBe('after the signal');
  expect(events).toEqual([]); // not exited while the connection is open
  events.push('closed');
  open.end();
  const { code } = await exited;
  expect(code).toBe(0);
  expect(events).toEqual(['closed', 'exit']);
});

test('an empty pool makes a new connection wait for a buffer, served once another connection ends', async () => {
  const { child, ready } = start(['--port', '0', '--threads', '1', '--buffers', '2']);
  const { port } = await ready;
  const open = async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.on('connect', r));
    return s;
  };
  const [a, b] = [await open(), await open()];
  const echoOn = (s: net.Socket, text: string) =>
    new Promise<string>((resolve) => {
      s.once('data', (d) => resolve(d.toString()));
      s.write(text);
    });
  expect(await echoOn(a, 'one')).toBe('one'); // both hold their buffers now
  expect(await echoOn(b, 'two')).toBe('two');
  const c = await open(); // waits for a buffer: not refused
  const waiting = echoOn(c, 'three');
  expect(await echoOn(a, 'still here')).toBe('still here');
  a.end();
  expect(await waiting).toBe('three'); // a's buffer came back: c is served
  const exited = exitOf(child);
  child.kill('SIGTERM');
  b.destroy();
  c.destroy();
  expect((await exited).code).toBe(0);
});

test.each([
  [['--port', 'abc'], /--port needs a whole number/],
  [['--port', '70000'], /--port must be between 0 and 65535/],
  [['--threads', '0'], /--threads must be between 1/],
  [['--threads', '2000'], /--threads must be between 1 and 1024/],
  [['--pin=yes'], /--pin takes no value/],
  [['--shutdown-timeout', 'soon'], /--shutdown-timeout needs a whole number/],
  [['--driver', 'kqueue2'], /--driver must be auto, uring, epoll or kqueue/],
  [['--buffer-size', '100'], /multiple of 64/],
  [['--buffers', '0'], /--buffers must be between 1/],
  [['--io', 'mmap'], /--io must be read, recv or copy, got 'mmap'/],
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
  expect(line).toMatch(/\(driver=epoll, threads=\d+, pid=\d+\)$/);
  const payload = pattern(100_000, 3);
  expect((await netRoundTrip(port, payload)).equals(payload)).toBe(true);
  const exited = exitOf(child);
  child.kill('SIGTERM');
  expect((await exited).code).toBe(0);

  const kq = spawn(process.execPath, [ECHO, '--port', '0', '--driver', 'kqueue'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stderr } = await exitOf(kq);
  expect(code).toBe(1);
  expect(stderr).toMatch(/kqueue is only built on macOS\/BSD/);
});
