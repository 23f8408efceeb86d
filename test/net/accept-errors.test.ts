// Issue 11: a transient accept error is counted and backed off from, never
// thrown at the program, and the listener serves afterwards. In-process: the
// test lowers this process's own RLIMIT_NOFILE (prlimit on its pid) and takes
// every descriptor number below it, so the listener's accept fails with
// EMFILE for a connection waiting in the kernel's backlog; then it gives the
// descriptors back and the same connection is accepted and served.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { type Runtime, TcpListener, type TcpStream } from '../../src/index';
import { expectClean, makeRuntime, until } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 16 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

/** This process's open-files limit, soft and hard (from /proc/self/limits). */
function nofile(): { soft: string; hard: string } {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.trim().split(/\s+/).slice(3, 5);
  return { soft, hard };
}

/** Sets this process's soft open-files limit (the hard one stays). */
function setSoftLimit(soft: string, hard: string): void {
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`]);
}

/** Takes every free descriptor number below the (lowered) limit. */
function takeAllFds(): number[] {
  const fds: number[] = [];
  for (;;) {
    try {
      fds.push(fs.openSync('/dev/null', 'r'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EMFILE') return fds;
      for (const fd of fds) fs.closeSync(fd);
      throw err;
    }
  }
}

test('EMFILE on accept is counted in acceptErrors, does not reach accept(), and the connection is served once fds free up', async () => {
  const limit = nofile();
  const highest = Math.max(...fs.readdirSync('/proc/self/fd').map(Number));
  // Lowered before the listener arms its accept: io_uring reads the limit
  // when it takes the ACCEPT in (io_accept_prep), not when it accepts.
  setSoftLimit(String(highest + 32), limit.hard);
  let listener: TcpListener | undefined;
  let fillers: number[] = [];
  let client: net.Socket | undefined;
  let pending: Promise<TcpStream> | undefined;
  let settled = false;
  try {
    listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    pending = listener.accept(); // must not see the error
    void pending.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    fillers = takeAllFds();
    fs.closeSync(fillers.pop()!); // exactly one number free: the client's socket
    client = net.connect(listener.localAddress().port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise((resolve) => client!.once('connect', resolve)); // in the backlog now
    await until(() => listener!.acceptErrors > 0, 'an accept error');
  } finally {
    for (const fd of fillers) fs.closeSync(fd);
    setSoftLimit(limit.soft, limit.hard);
  }
  expect(listener.lastAcceptError).toMatchObject({ code: 'EMFILE', syscall: 'accept' });
  expect(settled).toBe(false);
  // After its back-off the listener accepts again: the same connection, served.
  const stream = await pending;
  client.write('ping');
  const [n, buf] = await stream.readExact(Buffer.alloc(4));
  await stream.writeAll(buf, n);
  const echoed = await new Promise<string>((resolve) => client!.once('data', (d) => resolve(d.toString())));
  expect(echoed).toBe('ping');
  // And it goes on accepting new connections.
  const second = net.connect(listener.localAddress().port, '127.0.0.1');
  const next = await listener.accept();
  second.destroy();
  client.destroy();
  await Promise.all([stream.close(), next.close(), listener.close()]);
});
