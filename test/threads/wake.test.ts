// Cross-thread wake-ups: from one io_uring runtime to another they are
// IORING_OP_MSG_RING CQEs posted into the target's ring; every other pair
// (epoll on either side) uses the target's eventfd, in the same process at
// the same time. Stale tokens (a runtime closed under a waking thread) wake
// nothing. The counters say which path each wake took.
import { Channel, Runtime } from '../../src/index';
import { endThreadsAfterEach, start } from './helpers';

endThreadsAfterEach();

// This project's driver: 'uring' or 'epoll' (test/setup-*.ts).
const onUring = process.env.PERCORE_DRIVER !== 'epoll';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('which path a wake takes', () => {
  test("between two runtimes of this project's driver: MSG_RING on io_uring, the eventfd on epoll", async () => {
    // A ping-pong over two channels of capacity 1: each side parks on every
    // message and is woken by the other, so nothing but wakes moves it on.
    const ping = new Channel<number>({ capacity: 1 });
    const pong = new Channel<number>({ capacity: 1 });
    // The driver by name: workers do not see the PERCORE_DRIVER that jest's
    // setup file sets inside its sandbox.
    const results = (await start(
      { threads: 2, driver: onUring ? 'uring' : 'epoll', data: { ping: ping.handle, pong: pong.handle, n: 200 } },
      async (ctx) => {
        const { Channel: C } = ctx.percore;
        const ping = C.from<number>(ctx.data.ping);
        const pong = C.from<number>(ctx.data.pong);
        for (let i = 0; i < ctx.data.n; i++) {
          if (ctx.threadIndex === 0) {
            await ping.send(i);
            if ((await pong.recv()) !== i) throw new Error('out of order');
          } else {
            await pong.send(await ping.recv());
          }
        }
        const c = ctx.runtime.counters();
        return {
          path: ctx.runtime.wakePath,
          msgRing: c.wakesMsgRing,
          eventfd: c.wakesEventfd,
          received: ctx.runtime.nativeDriver.counters().ringWakes,
        };
      },
    )) as Array<{ path: string; msgRing: number; eventfd: number; received: number }>;
    for (const r of results) {
      if (onUring) {
        expect(r.path).toBe('msg_ring');
        expect(r.eventfd).toBe(0);
        expect(r.msgRing).toBeGreaterThan(0);
        expect(r.received).toBeGreaterThan(0);
      } else {
        expect(r.path).toBe('eventfd');
        expect(r.msgRing).toBe(0);
        expect(r.eventfd).toBeGreaterThan(0);
        expect(r.received).toBe(0);
      }
    }
  });

  test('io_uring and epoll threads in one process: uring↔uring by MSG_RING, anything with epoll by eventfd', async () => {
    // Thread 0 (io_uring) receives from thread 1 (io_uring) and thread 2 (an
    // epoll runtime); capacity 1 makes the senders park, so thread 0 wakes
    // both kinds and both kinds wake it.
    const ch = new Channel<[number, number]>({ capacity: 1 });
    const results = (await start({ threads: 3, driver: 'uring', data: { ch: ch.handle, n: 300 } }, async (ctx) => {
      const { Channel: C, Runtime: R } = ctx.percore;
      const ch = C.from<[number, number]>(ctx.data.ch);
      if (ctx.threadIndex === 0) {
        const next = [0, 0, 0];
        for (let total = 0; total < 2 * ctx.data.n; total++) {
          const [from, i] = await ch.recv();
          if (i !== next[from]++) throw new Error(`thread ${from}: out of order`);
        }
        const c = ctx.runtime.counters();
        return { driver: ctx.runtime.driver, msgRing: c.wakesMsgRing, eventfd: c.wakesEventfd };
      }
      const runtime = ctx.threadIndex === 2 ? new R({ driver: 'epoll' }) : ctx.runtime;
      for (let i = 0; i < ctx.data.n; i++) await ch.send([ctx.threadIndex, i], { runtime });
      const c = runtime.counters();
      const out = { driver: runtime.driver, msgRing: c.wakesMsgRing, eventfd: c.wakesEventfd };
      if (runtime !== ctx.runtime) runtime.close();
      return out;
    })) as Array<{ driver: string; msgRing: number; eventfd: number }>;
    expect(results.map((r) => r.driver)).toEqual(['io_uring', 'io_uring', 'epoll']);
    const [receiver, uringSender, epollSender] = results;
    expect(receiver.msgRing).toBeGreaterThan(0); // woke thread 1
    expect(receiver.eventfd).toBeGreaterThan(0); // woke thread 2
    expect(uringSender).toMatchObject({ eventfd: 0 });
    expect(uringSender.msgRing).toBeGreaterThan(0);
    expect(epollSender).toMatchObject({ msgRing: 0 });
    expect(epollSender.eventfd).toBeGreaterThan(0);
  });

  test('an epoll runtime wakes an io_uring one by its eventfd, and back; the module wake() always does', async () => {
    const uring = new Runtime({ driver: 'uring' });
    const epoll = new Runtime({ driver: 'epoll' });
    const woken = { uring: 0, epoll: 0 };
    const toUring = uring.nativeDriver.createWaker(() => {
      woken.uring++;
    });
    const toEpoll = epoll.nativeDriver.createWaker(() => {
      woken.epoll++;
    });
    uring.nativeDriver.setRef(true);
    epoll.nativeDriver.setRef(true);
    try {
      expect(epoll.wake(toUring)).toBe(0);
      expect(uring.wake(toEpoll)).toBe(0);
      await settle(30);
      expect(woken).toEqual({ uring: 1, epoll: 1 });
      expect(epoll.counters()).toMatchObject({ wakesEventfd: 1, wakesMsgRing: 0 });
      expect(uring.counters()).toMatchObject({ wakesEventfd: 1, wakesMsgRing: 0 });
      expect(uring.nativeDriver.counters().ringWakes).toBe(0);
    } finally {
      uring.close();
      epoll.close();
    }
  });
});

describe('stale tokens across threads', () => {
  test('a runtime closed while another thread wakes it in a loop: no crash, then -ESRCH, and runtimes made after it get nothing', async () => {
    // words: 0 the target's token, 1 set once the waker has woken it, 2 stop,
    // 3 set once the later runtimes exist, 4 stale answers the waker got after that.
    const words = new Int32Array(new SharedArrayBuffer(20));
    const [closer, waker] = (await start(
      { threads: 2, driver: onUring ? 'uring' : 'epoll', data: { words: words.buffer } },
      async (ctx) => {
        const words = new Int32Array(ctx.data.words as SharedArrayBuffer);
        if (ctx.threadIndex === 1) {
          while (Atomics.load(words, 0) === 0) await ctx.runtime.sleep(1);
          const token = Atomics.load(words, 0);
          let ok = 0;
          let stale = 0;
          let other = 0;
          // A tight loop: one wake after another, racing the close on thread 0.
          while (Atomics.load(words, 2) === 0) {
            const r = ctx.runtime.wake(token);
            if (r === 0) {
              ok++;
              Atomics.store(words, 1, 1);
            } else if (r === -3) {
              stale++;
              if (Atomics.load(words, 3) === 1) Atomics.add(words, 4, 1);
            } else other++;
          }
          const c = ctx.runtime.counters();
          return { ok, stale, other, msgRing: c.wakesMsgRing, eventfd: c.wakesEventfd };
        }
        const { Runtime: R } = ctx.percore;
        const target = new R({ driver: ctx.runtime.driver === 'io_uring' ? 'uring' : 'epoll' });
        let targetWoken = 0;
        Atomics.store(
          words,
          0,
          target.nativeDriver.createWaker(() => {
            targetWoken++;
          }),
        );
        target.nativeDriver.setRef(true);
        while (Atomics.load(words, 1) === 0) await ctx.runtime.sleep(1);
        // Until the target has seen a wake (a loaded machine may take a while).
        while (targetWoken === 0) await ctx.runtime.sleep(1);
        target.close();
        // New runtimes take the freed registry slot and, likely, the fd numbers.
        const later = [0, 0, 0];
        const runtimes = later.map((_, i) => {
          const r = new R({ driver: ctx.runtime.driver === 'io_uring' ? 'uring' : 'epoll' });
          r.nativeDriver.createWaker(() => {
            later[i]++;
          });
          r.nativeDriver.setRef(true);
          return r;
        });
        // The waker keeps waking the stale token after they exist: a hundred
        // answers of -ESRCH, however slowly the other thread runs.
        Atomics.store(words, 3, 1);
        while (Atomics.load(words, 4) < 100) await ctx.runtime.sleep(1);
        Atomics.store(words, 2, 1);
        await ctx.runtime.sleep(10);
        const ringWakes = runtimes.map((r) => r.nativeDriver.counters().ringWakes);
        for (const r of runtimes) r.close();
        return { targetWoken, later, ringWakes };
      },
    )) as [
      { targetWoken: number; later: number[]; ringWakes: number[] },
      { ok: number; stale: number; other: number; msgRing: number; eventfd: number },
    ];
    expect(closer.targetWoken).toBeGreaterThan(0);
    expect(closer.later).toEqual([0, 0, 0]);
    expect(closer.ringWakes).toEqual([0, 0, 0]);
    expect(waker.ok).toBeGreaterThan(0);
    expect(waker.stale).toBeGreaterThan(0);
    expect(waker.other).toBe(0);
    if (onUring) {
      // Each wake that reached the target went one way or the other; a
      // MSG_RING into a ring being torn down can fail in the kernel and is
      // then redone (and counted again) by the eventfd.
      expect(waker.msgRing).toBeGreaterThan(0);
      expect(waker.msgRing).toBeLessThanOrEqual(waker.ok);
      expect(waker.msgRing + waker.eventfd).toBeGreaterThanOrEqual(waker.ok);
    } else {
      expect(waker.eventfd).toBe(waker.ok);
    }
  });
});
