import * as L from '../../src/core/layout';
import { COUNTER, ERRNO, STATE, setup } from './fake-host';

describe('timer wheel', () => {
  test('a timer fires at the first reap with now >= start + delay, never earlier', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.timerStart(100, 20); // level 0: nextTimeout is exact
    expect(x.opState(id)).toBe(STATE.ARMED);
    expect(x.counter(COUNTER.TIMERS)).toBe(1);
    expect(host.pending()).toBe(0); // never reaches the host
    expect(x.nextTimeout(100)).toBe(20);
    expect(x.nextTimeout(110.5)).toBe(10); // rounded up
    expect(h.reap(119.999)).toEqual([]);
    expect(h.reap(120)).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_TIMER }]);
    expect(x.counter(COUNTER.TIMERS)).toBe(0);
    h.reap(120);
    expect(x.nextTimeout(120)).toBe(-1);
  });

  test('above level 0 nextTimeout is the slot start, a lower bound', () => {
    const h = setup();
    const { x } = h;
    const id = x.timerStart(100, 50); // deadline 150: level 1, slot [128, 192)
    expect(x.nextTimeout(100)).toBe(28);
    expect(h.reap(128)).toEqual([]); // the wake-up cascades it to level 0
    expect(x.nextTimeout(128)).toBe(22);
    expect(h.reap(150).map((d) => d.id)).toEqual([id]);
  });

  test('fractional times round the deadline up to the next ms', () => {
    const h = setup();
    const { x } = h;
    const id = x.timerStart(0.5, 1); // due at ceil(1.5) = 2
    expect(h.reap(1.9)).toEqual([]);
    expect(h.reap(2).map((d) => d.id)).toEqual([id]);
  });

  test('a zero delay fires on the next reap, even at the same now', () => {
    const h = setup();
    const { x } = h;
    h.reap(10);
    const id = x.timerStart(10, 0);
    expect(x.nextTimeout(10)).toBe(0);
    expect(h.reap(10).map((d) => d.id)).toEqual([id]);
  });

  test('expired timers are delivered in deadline order, ties in start order', () => {
    const h = setup({ ops: 16 });
    const { x } = h;
    const delays = [70, 5, 300, 5, 64, 4095, 1, 70, 0, 4096];
    const ids = delays.map((d) => x.timerStart(0, d));
    const expected = delays
      .map((d, i) => [d, i] as const)
      .sort((p, q) => p[0] - q[0] || p[1] - q[1])
      .map(([, i]) => ids[i]);
    expect(h.reap(5000).map((d) => d.id)).toEqual(expected);
  });

  test('many timers fire each at its own ms across reaps', () => {
    const h = setup({ ops: 1024, cq: 1024 });
    const { x } = h;
    const due = new Map<number, number>();
    let seed = 7;
    for (let i = 0; i < 1000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const delay = seed % 20000;
      due.set(x.timerStart(0, delay), delay);
    }
    let now = 0;
    let fired = 0;
    while (x.nextTimeout(now) >= 0) {
      const wait = x.nextTimeout(now);
      now += wait;
      for (const d of h.reap(now)) {
        expect(due.get(d.id)).toBe(now); // stepping by nextTimeout lands on each deadline
        fired++;
      }
    }
    expect(fired).toBe(1000);
    expect(x.counter(COUNTER.TIMERS)).toBe(0);
  });

  test('long delays cascade through every level and still fire exactly on time', () => {
    const h = setup({ ops: 8 });
    const { x } = h;
    const start = 1_234_567;
    // one delay per level boundary: 64, 64^2, 64^3, 64^4, 64^5 ms and beyond
    const delays = [63, 64 ** 2 + 1, 64 ** 3 + 17, 64 ** 4 + 5, 64 ** 5 + 3, 2 ** 32 - 1];
    const ids = delays.map((d) => x.timerStart(start, d));
    for (const [i, d] of delays.entries()) {
      expect(h.reap(start + d - 1).map((e) => e.id)).toEqual([]);
      // stepping by nextTimeout never overshoots the deadline
      let now = start + d - 1;
      const wait = x.nextTimeout(now);
      expect(wait).toBe(1);
      now += wait;
      expect(h.reap(now).map((e) => e.id)).toEqual([ids[i]]);
    }
  });

  test('nextTimeout is a lower bound that converges on a far timer', () => {
    const h = setup();
    const { x } = h;
    const id = x.timerStart(0, 1_000_000);
    let now = 0;
    let wakes = 0;
    for (;;) {
      const wait = x.nextTimeout(now);
      expect(wait).toBeGreaterThan(0);
      now += wait;
      wakes++;
      const batch = h.reap(now);
      if (batch.length > 0) {
        expect(batch[0].id).toBe(id);
        break;
      }
      expect(now).toBeLessThan(1_000_000);
    }
    expect(now).toBe(1_000_000);
    expect(wakes).toBeLessThanOrEqual(6); // at most one wake per level
  });

  test('a jump far ahead fires everything due in one reap', () => {
    const h = setup({ ops: 8 });
    const { x } = h;
    const ids = [x.timerStart(0, 3), x.timerStart(0, 3_000_000), x.timerStart(0, 90)];
    expect(h.reap(10_000_000).map((d) => d.id)).toEqual([ids[0], ids[2], ids[1]]);
  });

  test('timers work from a large clock origin (Date.now())', () => {
    const h = setup();
    const { x } = h;
    const now = 1_763_000_000_000;
    const id = x.timerStart(now, 25);
    expect(x.nextTimeout(now)).toBe(25);
    expect(h.reap(now + 24)).toEqual([]);
    expect(h.reap(now + 25).map((d) => d.id)).toEqual([id]);
  });

  test('cancel unlinks the timer and delivers -ECANCELED on the next reap', () => {
    const h = setup();
    const { x } = h;
    const a = x.timerStart(0, 10);
    const b = x.timerStart(0, 10);
    expect(x.cancel(a)).toBe(1);
    expect(x.cancel(a)).toBe(0); // completed now: too late
    expect(x.opState(a)).toBe(STATE.COMPLETED);
    expect(x.counter(COUNTER.TIMERS)).toBe(1);
    expect(x.nextTimeout(0)).toBe(0);
    expect(h.reap(0)).toEqual([{ id: a, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_TIMER }]);
    expect(h.reap(10).map((d) => d.id)).toEqual([b]);
  });

  test('abandon takes the timer out at once', () => {
    const h = setup();
    const { x } = h;
    const a = x.timerStart(0, 10);
    expect(x.abandon(a)).toBe(0);
    expect(x.opState(a)).toBe(-ERRNO.ENOENT);
    expect(x.counter(COUNTER.TIMERS)).toBe(0);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.counter(COUNTER.COMPLETED)).toBe(1);
    expect(x.nextTimeout(0)).toBe(-1);
    expect(h.reap(100)).toEqual([]);
  });

  test('delivery order: carry-over, then CQEs in arrival order, then timers', () => {
    const h = setup({ ops: 8 });
    const { x, host } = h;
    const early = [x.submitNop(), x.submitNop()];
    host.completeAll();
    expect(h.reap(0, 1).map((d) => d.id)).toEqual([early[0]]);
    const t = x.timerStart(0, 5);
    const n1 = x.submitNop();
    const n2 = x.submitNop();
    const taken = host.take();
    host.complete(taken[1].id, 0); // the host completes out of submission order
    host.complete(taken[0].id, 0);
    expect(h.reap(5).map((d) => d.id)).toEqual([early[1], n2, n1, t]);
  });

  test('a timer started while the wheel lags far behind still lands correctly', () => {
    const h = setup();
    const { x } = h;
    const far = x.timerStart(0, 2 ** 32 - 1); // keeps the wheel from jumping
    const late = x.timerStart(2 ** 36 + 5, 10); // the caller's clock ran ahead
    expect(h.reap(2 ** 36 + 15).map((d) => d.id)).toEqual([far, late]);
  });

  test('a deadline across the top level boundary waits for the next rotation', () => {
    const h = setup();
    const { x } = h;
    const edge = 2 ** 36 - 100; // the wheel's top level wraps at multiples of 2^36 ms
    const id = x.timerStart(edge, 200);
    expect(x.nextTimeout(edge)).toBeGreaterThan(0);
    expect(h.reap(edge + 199)).toEqual([]);
    expect(x.nextTimeout(edge + 199)).toBe(1);
    expect(h.reap(edge + 200).map((d) => d.id)).toEqual([id]);
  });

  test('a clock that steps back never fires early and never loses a timer', () => {
    const h = setup();
    const { x } = h;
    h.reap(1000);
    const back = x.timerStart(900, 50); // due at 950, already behind the wheel
    const ahead = x.timerStart(900, 200); // due at 1100
    expect(h.reap(990).map((d) => d.id)).toEqual([back]);
    expect(h.reap(1099)).toEqual([]);
    expect(h.reap(1100).map((d) => d.id)).toEqual([ahead]);
  });
});
