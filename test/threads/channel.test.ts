// Channels between runtimes: ordering, backpressure, close from either side,
// wake-ups across threads, zero-copy shared views. Every thread's runtime
// comes from the launcher, so these run under whichever driver it picks.
import { Channel, Runtime } from '../../src/index';
import { expectClean, makeRuntime, until } from '../support/helpers';
import { endThreadsAfterEach, start } from './helpers';

endThreadsAfterEach();

let rt: Runtime;
beforeEach(() => {
  rt = makeRuntime();
});
afterEach(async () => {
  await expectClean(rt);
  expect(rt.counters().parked).toBe(0);
  rt.close();
});

describe('on one thread', () => {
  test('values arrive in order, as structured clones', async () => {
    const ch = new Channel<unknown>({ capacity: 8 });
    const values = [
      1,
      'two',
      { three: [3] },
      new Map([[4, 'four']]),
      new Date(5),
      Buffer.from('six'),
      new Uint16Array([7, 8]),
      null,
    ];
    for (const v of values) await ch.send(v);
    expect(ch.length).toBe(8);
    for (const v of values) expect(await ch.recv()).toEqual(v);
    const buf = values[5] as Buffer;
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(ch.length).toBe(0);
  });

  test('a full channel makes send wait until recv frees a slot (backpressure)', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    expect(ch.trySend(1)).toBe(true);
    expect(ch.trySend(2)).toBe(true);
    expect(ch.trySend(3)).toBe(false);
    let sent = false;
    const third = ch.send(3).then(() => {
      sent = true;
    });
    await rt.sleep(10);
    expect(sent).toBe(false);
    expect(rt.counters().parked).toBe(1);
    expect(ch.length).toBe(2);
    expect(await ch.recv()).toBe(1);
    await third;
    expect(sent).toBe(true);
    expect([await ch.recv(), await ch.recv()]).toEqual([2, 3]);
  });

  test('recv waits for a send; tryRecv answers at once', async () => {
    const ch = new Channel<string>({ capacity: 4 });
    expect(ch.tryRecv()).toBeUndefined();
    const got = ch.recv();
    await rt.sleep(5);
    expect(rt.counters().parked).toBe(1);
    await ch.send('late');
    expect(await got).toBe('late');
    await ch.send('now');
    expect(ch.tryRecv()).toEqual({ value: 'now' });
  });

  test('close by the sender: what was sent still drains, then ERR_CHANNEL_CLOSED', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    await ch.send(1);
    await ch.send(2);
    ch.close();
    ch.close(); // idempotent
    expect(ch.closed).toBe(true);
    await expect(ch.send(3)).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
    expect(() => ch.trySend(3)).toThrow(expect.objectContaining({ code: 'ERR_CHANNEL_CLOSED' }));
    const got: number[] = [];
    for await (const v of ch) got.push(v);
    expect(got).toEqual([1, 2]);
    await expect(ch.recv()).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
  });

  test('close by the receiver: a waiting send rejects and its value is not sent', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    await ch.send(1);
    const waiting = ch.send(2);
    await rt.sleep(5);
    ch.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
    expect(await ch.recv()).toBe(1);
    await expect(ch.recv()).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
  });

  test('a waiting recv rejects when the channel is closed, and when its runtime closes', async () => {
    const ch = new Channel<number>();
    const waiting = ch.recv();
    await rt.sleep(2);
    ch.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });

    const other = new Runtime();
    const ch2 = new Channel<number>();
    const pending = ch2.recv({ runtime: other });
    expect(other.counters().parked).toBe(1);
    other.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_PERCORE_RUNTIME_CLOSED' });
    // The thread's next runtime takes the receiving side over.
    await ch2.send(7);
    expect(await ch2.recv({ runtime: rt })).toBe(7);
  });

  test('an aborted wait settles with AbortError and sends nothing', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    await ch.send(1);
    const ac = new AbortController();
    const send = ch.send(2, { signal: ac.signal });
    const ac2 = new AbortController();
    ac.abort();
    await expect(send).rejects.toMatchObject({ name: 'AbortError' });
    expect(await ch.recv()).toBe(1);
    const recv = ch.recv({ signal: ac2.signal });
    ac2.abort();
    await expect(recv).rejects.toMatchObject({ name: 'AbortError' });
    expect(ch.length).toBe(0);
  });

  test('messages larger than a slot, unshared SharedArrayBuffers and bad options are refused with codes', async () => {
    const ch = new Channel({ capacity: 2, slotSize: 64 });
    await expect(ch.send('x'.repeat(100))).rejects.toMatchObject({ code: 'ERR_CHANNEL_MESSAGE_TOO_LARGE' });
    await expect(ch.send(new Uint8Array(new SharedArrayBuffer(8)))).rejects.toMatchObject({
      code: 'ERR_CHANNEL_UNSHARED_BUFFER',
    });
    await expect(ch.send(() => 1)).rejects.toThrow(/could not be cloned/);
    expect(ch.length).toBe(0);
    expect(() => new Channel({ capacity: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Channel({ slotSize: 100 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Channel.from({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe.each([1, 3, 5, 7, 100])('capacity %i (not only powers of two)', (capacity) => {
  test('holds exactly capacity messages: one more waits, parked, until a recv frees a slot', async () => {
    const ch = new Channel<number>({ capacity, slotSize: 64 });
    expect(ch.capacity).toBe(capacity);
    for (let i = 0; i < capacity; i++) expect(ch.trySend(i)).toBe(true);
    expect(ch.length).toBe(capacity);
    expect(ch.trySend(-1)).toBe(false);
    let sent = false;
    const extra = ch.send(capacity).then(() => {
      sent = true;
    });
    expect(rt.counters().parked).toBe(1); // full: the send waits on the waker
    expect(ch.length).toBe(capacity);
    expect(await ch.recv()).toBe(0);
    await extra;
    expect(sent).toBe(true);
    expect(rt.counters().parked).toBe(0);
    expect(ch.length).toBe(capacity);
    expect(ch.trySend(-1)).toBe(false);
    for (let i = 1; i <= capacity; i++) expect(await ch.recv()).toBe(i);
    expect(ch.length).toBe(0);
    expect(ch.tryRecv()).toBeUndefined();
  });

  test('order holds across many wraparounds of the ring, at every fill level', async () => {
    const ch = new Channel<number>({ capacity, slotSize: 64 });
    let next = 0;
    let expected = 0;
    // Fill to a level, drain to another, over and over: positions run past
    // the ring's size (a power of two >= capacity) many times.
    for (let round = 0; round < 40; round++) {
      const fill = 1 + ((round * 7) % capacity);
      while (ch.length < fill) expect(ch.trySend(next++)).toBe(true);
      if (ch.length === capacity) expect(ch.trySend(-1)).toBe(false);
      const keep = (round * 3) % fill;
      while (ch.length > keep) expect(ch.tryRecv()).toEqual({ value: expected++ });
    }
    while (ch.length > 0) expect(await ch.recv()).toBe(expected++);
    expect(expected).toBe(next);
    expect(next).toBeGreaterThan(4 * capacity);
  });

  test('a sender faster than its receiver blocks at capacity every time; nothing is lost or reordered', async () => {
    const ch = new Channel<number>({ capacity, slotSize: 64 });
    const total = 8 * capacity + 3;
    let blocks = 0;
    let done = false;
    const producer = (async () => {
      for (let i = 0; i < total; i++) {
        if (ch.trySend(i)) continue;
        blocks++; // full: wait for room
        await ch.send(i);
      }
      done = true;
    })();
    let next = 0;
    let seen = 0;
    while (next < total) {
      // The receiver takes nothing until the sender is blocked again (or done).
      await until(() => done || blocks > seen, 'the sender to block or finish');
      if (blocks > seen) {
        seen = blocks;
        expect(ch.length).toBe(capacity);
        expect(rt.counters().parked).toBe(1);
      }
      for (let r = ch.tryRecv(); r !== undefined; r = ch.tryRecv()) expect(r.value).toBe(next++);
    }
    await producer;
    expect(blocks).toBe(Math.ceil((total - capacity) / capacity));
  });

  test('across threads: every message once and in order, never more than capacity queued', async () => {
    const ch = new Channel<number>({ capacity, slotSize: 64 });
    const n = 1000;
    const [received] = await start({ threads: 2, data: { ch: ch.handle, n, capacity } }, async (ctx) => {
      const ch = ctx.percore.Channel.from<number>(ctx.data.ch);
      if (ctx.threadIndex === 1) {
        for (let i = 0; i < ctx.data.n; i++) await ch.send(i);
        return 0;
      }
      for (let i = 0; i < ctx.data.n; i++) {
        if (ch.length > ctx.data.capacity) throw new Error(`${ch.length} queued, capacity ${ctx.data.capacity}`);
        const v = await ch.recv();
        if (v !== i) throw new Error(`got ${v}, expected ${i}`);
      }
      return ctx.data.n;
    });
    expect(received).toBe(n);
  });
});

describe('across threads', () => {
  test('two senders on two workers: every message arrives once, each sender in order, with wake-ups both ways', async () => {
    // capacity 4 against 2 × 2000 messages: both senders park on a full
    // channel and the receiver parks on an empty one, many times over.
    const ch = new Channel<[number, number]>({ capacity: 4, slotSize: 64 });
    const results = await start({ threads: 3, data: { ch: ch.handle, n: 2000 } }, async (ctx) => {
      const { Channel: C } = ctx.percore;
      const ch = C.from<[number, number]>(ctx.data.ch);
      if (ctx.threadIndex > 0) {
        for (let i = 0; i < ctx.data.n; i++) await ch.send([ctx.threadIndex, i]);
        return ctx.runtime.counters().parked;
      }
      const next = [0, 0, 0];
      let total = 0;
      while (total < 2 * ctx.data.n) {
        const [from, i] = await ch.recv();
        if (i !== next[from]) throw new Error(`thread ${from}: got ${i}, expected ${next[from]}`);
        next[from]++;
        total++;
      }
      return [next, ctx.runtime.counters().parked, ch.length];
    });
    expect(results).toEqual([[[0, 2000, 2000], 0, 0], 0, 0]);
  });

  // The tests below order the two threads through a shared word (`step`):
  // a thread waits for the other to have reached a point (a recv or send
  // parked), never for a time.

  test('a receiver parked on an empty channel is woken by a send from another thread', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const step = new Int32Array(new SharedArrayBuffer(4));
    const [got, sender] = await start({ threads: 2, data: { ch: ch.handle, step } }, async (ctx) => {
      const ch = ctx.percore.Channel.from<number>(ctx.data.ch);
      const step = ctx.data.step;
      if (ctx.threadIndex === 1) {
        while (Atomics.load(step, 0) === 0) await ctx.runtime.sleep(1);
        await ch.send(42);
        const c = ctx.runtime.counters();
        return c.wakesMsgRing + c.wakesEventfd;
      }
      const value = ch.recv();
      const parked = ctx.runtime.counters().parked;
      Atomics.store(step, 0, 1); // parked: the sender may go
      return [parked, await value];
    });
    // Parked before the send: only the waker (no timer, no polling) could
    // settle this recv, which would otherwise hang until the test times out.
    expect(got).toEqual([1, 42]);
    expect(sender).toBeGreaterThanOrEqual(1); // the send woke the receiver's thread
  });

  test('close from the receiving thread rejects a sender parked on another thread', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const step = new Int32Array(new SharedArrayBuffer(4));
    const results = await start({ threads: 2, data: { ch: ch.handle, step } }, async (ctx) => {
      const ch = ctx.percore.Channel.from<number>(ctx.data.ch);
      const step = ctx.data.step;
      if (ctx.threadIndex === 1) {
        await ch.send(1);
        const second = ch.send(2).then(
          () => 'sent',
          (e: { code: string }) => e.code,
        );
        const parked = ctx.runtime.counters().parked;
        Atomics.store(step, 0, 1); // the second send is parked
        return [parked, await second];
      }
      while (Atomics.load(step, 0) === 0) await ctx.runtime.sleep(1);
      ch.close();
      return [await ch.recv(), await ch.recv().catch((e: { code: string }) => e.code)];
    });
    expect(results).toEqual([
      [1, 'ERR_CHANNEL_CLOSED'],
      [1, 'ERR_CHANNEL_CLOSED'],
    ]);
  });

  test('close from a sending thread wakes the parked receiver, which drains first', async () => {
    const ch = new Channel<string>({ capacity: 8 });
    const step = new Int32Array(new SharedArrayBuffer(4));
    const [got] = await start({ threads: 2, data: { ch: ch.handle, step } }, async (ctx) => {
      const ch = ctx.percore.Channel.from<string>(ctx.data.ch);
      const step = ctx.data.step;
      if (ctx.threadIndex === 1) {
        while (Atomics.load(step, 0) === 0) await ctx.runtime.sleep(1);
        await ch.send('a');
        await ch.send('b');
        ch.close();
        return [];
      }
      const first = ch.recv();
      const parked = ctx.runtime.counters().parked;
      Atomics.store(step, 0, 1); // parked on the empty channel
      const out: unknown[] = [parked, await first];
      for await (const v of ch) out.push(v);
      return out;
    });
    expect(got).toEqual([1, 'a', 'b']);
  });

  test('views over a shared buffer listed at creation travel by reference (zero copy)', async () => {
    const shared = new SharedArrayBuffer(1024);
    const ch = new Channel<{ view: Uint8Array }>({ capacity: 2, shared: [shared] });
    await start({ threads: 2, data: { ch: ch.handle } }, async (ctx) => {
      const ch = ctx.percore.Channel.from<{ view: Uint8Array }>(ctx.data.ch);
      if (ctx.threadIndex === 1) {
        const { view } = await ch.recv();
        view.fill(0xab); // writes the sender's memory
        return view.byteOffset;
      }
      const buffer = ch.handle.shared[0];
      await ch.send({ view: new Uint8Array(buffer, 100, 16) });
      return 0;
    });
    const bytes = new Uint8Array(shared);
    expect(bytes.subarray(100, 116).every((b) => b === 0xab)).toBe(true);
    expect(bytes[99]).toBe(0);
    expect(bytes[116]).toBe(0);
  });

  test('one receiving thread only; spsc allows one sending thread only', async () => {
    const ch = new Channel<number>({ capacity: 2, mode: 'spsc' });
    await ch.send(1);
    expect(await ch.recv()).toBe(1);
    const [codes] = await start({ threads: 2, data: { ch: ch.handle } }, async (ctx) => {
      if (ctx.threadIndex === 0) return [];
      const ch = ctx.percore.Channel.from<number>(ctx.data.ch);
      return [
        await ch.recv().catch((e: { code: string }) => e.code),
        await ch.send(2).catch((e: { code: string }) => e.code),
      ];
    }).then((r) => [r[1]]);
    expect(codes).toEqual(['ERR_CHANNEL_RECEIVER_TAKEN', 'ERR_CHANNEL_SENDER_TAKEN']);
  });
});
