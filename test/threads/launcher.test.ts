// The launcher: one runtime per thread, results and failures with the thread's
// index, shutdown, and no thread left behind.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { getAffinity, Runtime, setAffinity } from '../../src/index';
import { endThreadsAfterEach, expectThreadsBackTo, osThreads, start } from './helpers';

endThreadsAfterEach();

const MODULE_MAIN = path.join(__dirname, 'fixtures', 'module-main.js');

test('a module main runs on every thread, each with its own current runtime', async () => {
  const before = osThreads();
  const results = await start({ threads: 3, data: { hello: 'world' } }, MODULE_MAIN);
  expect(results).toEqual([0, 1, 2].map((index) => ({ index, threads: 3, data: { hello: 'world' }, isCurrent: true })));
  await expectThreadsBackTo(before);
});

test('a function main is re-created from its source on every thread', async () => {
  const results = await start({ threads: 2 }, async (ctx) => {
    const rt = ctx.runtime;
    await rt.sleep(1);
    const c = rt.counters();
    return [ctx.threadIndex, c.timers, c.opsInFlight, c.submitted];
  });
  // Each runtime counted only its own timer: nothing is shared.
  expect(results).toEqual([
    [0, 0, 0, 1],
    [1, 0, 0, 1],
  ]);
});

test("every thread runs the driver this thread's PERCORE_DRIVER asks for", async () => {
  // The epoll project sets PERCORE_DRIVER in jest's sandbox, which workers do
  // not inherit: the launcher must hand the choice over itself.
  const expected = process.env.PERCORE_DRIVER === 'epoll' ? 'epoll' : 'io_uring';
  const drivers = await start({ threads: 3 }, (ctx) => ctx.runtime.driver);
  expect(drivers).toEqual([expected, expected, expected]);
});

test('a function that closes over its scope fails on every thread, the calling one included', async () => {
  const secret = 42;
  const err = await start({ threads: 2 }, () => secret).catch((e) => e);
  expect(err.code).toBe('ERR_PERCORE_THREAD_FAILED');
  expect(err.cause).toBeInstanceOf(Error);
  expect(err.cause.message).toMatch(/secret is not defined/);
  expect(err.errors).toHaveLength(2);
});

test('an error in one thread is reported with its index and stops the others', async () => {
  const before = osThreads();
  // No force path during the test: the others can only end by their signal.
  const err = await start({ threads: 3, shutdownTimeout: 2 ** 31 - 1 }, async (ctx) => {
    if (ctx.threadIndex === 2) {
      await ctx.runtime.sleep(20);
      throw Object.assign(new Error('thread two broke'), { code: 'EBROKEN' });
    }
    // The others run until told to stop.
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    return 'stopped';
  }).catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  expect(err.code).toBe('ERR_PERCORE_THREAD_FAILED');
  expect(err.threadIndex).toBe(2);
  expect(err.message).toBe('thread 2 failed: thread two broke');
  expect(err.cause).toMatchObject({ message: 'thread two broke', code: 'EBROKEN' });
  await expectThreadsBackTo(before);
});

test("onError: 'continue' lets the other threads finish, then still reports the failure", async () => {
  const err = await start({ threads: 2, onError: 'continue' }, async (ctx) => {
    if (ctx.threadIndex === 0) throw new Error('main thread failed');
    await ctx.runtime.sleep(50);
    if (ctx.signal.aborted) throw new Error('was stopped');
    return 'finished';
  }).catch((e) => e);
  expect(err.threadIndex).toBe(0);
  expect(err.errors).toHaveLength(1);
});

test('stop() aborts every signal; a thread still busy at shutdownTimeout has its runtime closed under it', async () => {
  const launch = start({ threads: 2, shutdownTimeout: 100, onReady: () => launch.stop() }, async (ctx) => {
    const { TcpListener, TcpStream } = ctx.percore;
    const rt = ctx.runtime;
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const client = await TcpStream.connect(listener.localAddress(), { runtime: rt });
    const server = await listener.accept();
    ctx.ready();
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    // Ignores the signal: waits for bytes that never come.
    const buf = rt.buffer();
    const err = await server.read(buf).catch((e: { code: string; buffer: Uint8Array }) => e);
    void client;
    return [(err as { code: string }).code, (err as { buffer: Uint8Array }).buffer === buf, rt.isClosed];
  });
  expect(await launch).toEqual([
    ['ERR_PERCORE_RUNTIME_CLOSED', true, true],
    ['ERR_PERCORE_RUNTIME_CLOSED', true, true],
  ]);
});

test('signals: SIGINT starts the graceful shutdown and the process exits 0 (a real process: jest sandboxes signals)', async () => {
  const script = `
    const { start } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/src/index.js'))});
    start({ threads: 2, signals: true, onReady: () => console.log('ready') }, async (ctx) => {
      ctx.ready();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return ctx.signal.reason.code;
    }).then((r) => { console.log(JSON.stringify([r, process.listenerCount('SIGINT')])); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve) =>
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve();
    }),
  );
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  expect(code).toBe(0);
  expect(JSON.parse(out.split('\n')[1])).toEqual([['ERR_PERCORE_SHUTDOWN', 'ERR_PERCORE_SHUTDOWN'], 0]);
});

test('a worker that exits without finishing its main is a failure of that thread', async () => {
  const err = await start({ threads: 2 }, async (ctx) => {
    if (ctx.threadIndex === 1) process.exit(3);
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  }).catch((e) => e);
  expect(err.threadIndex).toBe(1);
  expect(err.cause.code).toBe('ERR_PERCORE_THREAD_EXITED');
});

test('the calling thread gets its current runtime back', async () => {
  const mine = new Runtime();
  Runtime.setCurrent(mine);
  await start({ threads: 1 }, (ctx) => ctx.threadIndex);
  expect(Runtime.current()).toBe(mine);
  mine.close();
});

test('bad arguments reject at once, before any thread starts', async () => {
  const before = osThreads();
  await expect(start({ threads: 0 }, () => 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(start({ onError: 'explode' as 'stop' }, () => 0)).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
  });
  await expect(start({ threads: 1 }, 42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(start({ threads: 1 }, '/nonexistent/main.js')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(start({ threads: 1, pin: [] }, () => 0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(start({ threads: 2, entries: 0 }, () => 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  const method = {
    main(): number {
      return 0;
    },
  };
  await expect(start({ threads: 1 }, method.main)).rejects.toThrow(/re-created from its source/);
  expect(osThreads()).toBe(before);
});

describe('CPU pinning', () => {
  test('pin: true puts thread i on the i-th allowed CPU, and the calling thread gets its mask back', async () => {
    const allowed = getAffinity();
    expect(allowed.length).toBeGreaterThan(0);
    const results = await start({ threads: 3, pin: true }, (ctx) => [ctx.cpu, ctx.percore.getAffinity()]);
    results.forEach((r, i) => {
      const cpu = allowed[i % allowed.length];
      expect(r).toEqual([cpu, [cpu]]);
    });
    expect(getAffinity()).toEqual(allowed);
  });

  test('an explicit list wraps; a CPU the process may not use is skipped, not fatal', async () => {
    const allowed = getAffinity();
    const results = await start({ threads: 2, pin: [allowed[allowed.length - 1], 1000] }, (ctx) => ctx.cpu);
    expect(results).toEqual([allowed[allowed.length - 1], null]);
  });

  test('setAffinity returns false for CPUs it cannot have and throws only for bad arguments', () => {
    const allowed = getAffinity();
    expect(setAffinity([1000])).toBe(false);
    expect(getAffinity()).toEqual(allowed);
    expect(() => setAffinity([])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => setAffinity([-1])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(setAffinity(allowed)).toBe(true);
  });
});
