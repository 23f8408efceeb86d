// The fallback for real: the echo example runs under seccomp_exec (built by
// host/CMakeLists.txt), which makes io_uring_setup/enter/register fail with
// EPERM (Docker's default profile) or ENOSYS (a kernel without io_uring).
// `auto` must land on epoll, say why on stderr, and serve; a forced `uring`
// must exit non-zero naming the errno.
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { netRoundTrip, pattern } from './support/helpers';

const ROOT = path.resolve(__dirname, '..');
const SECCOMP = path.join(ROOT, 'build/host/Release/seccomp_exec');
const ECHO = path.join(ROOT, 'dist/examples/echo.js');

function run(
  errno: string,
  args: string[],
): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const env = { ...process.env };
  delete env.PERCORE_DRIVER; // the project's setting must not decide here
  const child = spawn(SECCOMP, [errno, process.execPath, ECHO, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(cond: () => boolean, exit: Promise<unknown>, what: string): Promise<void> {
  let done = false;
  void exit.then(() => {
    done = true;
  });
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (done || Date.now() > deadline) throw new Error(`no ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each([
  ['EPERM', /io_uring unavailable \(EPERM\): io_uring is not permitted: a seccomp profile/],
  ['ENOSYS', /io_uring unavailable \(ENOSYS\): this kernel has no io_uring/],
])('io_uring refused with %s', (errno, reason) => {
  test('auto falls back to epoll, prints one line saying why, and serves echo traffic', async () => {
    const p = run(errno, []);
    await until(() => /listening on/.test(p.out()), p.exit, `ready line (stderr: ${p.err()})`);
    expect(p.out()).toMatch(/^listening on 127\.0\.0\.1:\d+ \(driver=epoll, threads=\d+, pid=\d+\)\n$/);
    const lines = p.err().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^echo: using epoll: /);
    expect(lines[0]).toMatch(reason);
    const port = Number(/:(\d+) /.exec(p.out())![1]);
    for (const size of [1, 70_000]) {
      const payload = pattern(size, size);
      expect((await netRoundTrip(port, payload)).equals(payload)).toBe(true);
    }
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });

  test('a forced uring exits 1 naming the reason', async () => {
    const p = run(errno, ['--driver', 'uring']);
    expect(await p.exit).toBe(1);
    expect(p.out()).toBe('');
    expect(p.err()).toMatch(
      new RegExp(`^echo: cannot start the uring driver: io_uring is not available \\(${errno}\\)`),
    );
  });

  test('runtime.driverReason, and a forced uring throws with the errno as code', async () => {
    const env = { ...process.env };
    delete env.PERCORE_DRIVER;
    const script = `
      const { Runtime } = require(${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))});
      const rt = new Runtime();
      let forced;
      try { new Runtime({ driver: 'uring' }); } catch (e) { forced = { code: e.code, message: e.message }; }
      console.log(JSON.stringify({ driver: rt.driver, reason: rt.driverReason, forced }));
      rt.close();`;
    const child = spawn(SECCOMP, [errno, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    const got = JSON.parse(out);
    expect(got.driver).toBe('epoll');
    expect(got.reason).toMatch(reason);
    expect(got.forced.code).toBe(errno);
    expect(got.forced.message).toMatch(new RegExp(`io_uring is not available \\(${errno}\\)`));
  });
});
