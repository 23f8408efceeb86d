// Cross-thread wakes at the host level (driver.wake, createWaker): a wake
// from one io_uring driver to another is a MSG_RING CQE in the target's ring
// that the core never sees and that calls onWake once after the turn; a
// driver without MSG_RING, or an epoll one on either side, writes the
// eventfd. Tokens of closed drivers wake nothing. These build the drivers
// they need by name, so the io_uring cases run in the epoll project too (the
// machine has io_uring); the last ones use the project's driver.
import type { Driver } from '../../src/driver/addon';
import { FakeCore } from './fake-core';
import { host, isEpoll } from './setup';

const ESRCH = -3;

interface Made {
  core: FakeCore;
  driver: Driver;
  events: string[];
}
const open: Driver[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

/** A driver over a fake core that logs its turns (with their CQEs) and wakes. */
function make(kind: 'uring' | 'epoll', msgRing?: boolean): Made & { token: number } {
  const core = new FakeCore();
  const events: string[] = [];
  const Cls = kind === 'uring' ? host.UringDriver : host.EpollDriver;
  const driver = new Cls(core.bytes, core.header, {
    onTurn: () => {
      events.push(`turn ${JSON.stringify(core.takeCqes())}`);
      return -1;
    },
    ...(msgRing === undefined ? {} : { msgRing }),
  });
  open.push(driver);
  const token = driver.createWaker(() => {
    events.push('wake');
  });
  expect(token).toBeGreaterThan(0);
  driver.setRef(true);
  return { core, driver, events, token };
}

// The bound only ends a wait that failed; the assertions after it say what.
async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
}

test('a MSG_RING wake arrives as a CQE the core never sees: onWake runs, onTurn does not', async () => {
  const a = make('uring');
  const b = make('uring');
  expect(a.driver.features).toContain('msg_ring');
  expect(host.probeUring!().msgRing).toBe(true);
  expect(a.driver.wake(b.token)).toBe(0);
  await until(() => b.events.length > 0);
  await new Promise((r) => setTimeout(r, 20));
  expect(b.events).toEqual(['wake']);
  expect(b.core.cqPending()).toBe(0);
  expect(b.driver.counters()).toMatchObject({ ringWakes: 1, completed: 0 });
  // The sender got no CQE either (IOSQE_CQE_SKIP_SUCCESS, or swallowed).
  expect(a.driver.counters()).toMatchObject({ wakesMsgRing: 1, wakesEventfd: 0, completed: 0, enters: 1 });
  expect(a.events).toEqual([]);
});

test('a wake reaped in the same batch as completions runs onWake once, after onTurn', async () => {
  const a = make('uring');
  const b = make('uring');
  b.core.submit({ id: b.core.id(1), opcode: 0 /* NOP */ });
  b.driver.flush();
  a.driver.wake(b.token);
  a.driver.wake(b.token);
  await until(() => b.events.length >= 2);
  await new Promise((r) => setTimeout(r, 20));
  expect(b.events).toEqual([`turn ${JSON.stringify([{ id: b.core.id(1), res: 0, flags: 0 }])}`, 'wake']);
  expect(b.driver.counters().ringWakes).toBe(2);
});

test('poll() reaps a MSG_RING wake and leaves onWake to the next turn', async () => {
  const a = make('uring');
  const b = make('uring');
  a.driver.wake(b.token);
  expect(b.driver.poll(1000)).toBe(0); // nothing for the core
  expect(b.events).toEqual([]); // poll never calls JS
  await until(() => b.events.includes('wake'));
  // The turn poll() asked for (a requested turn always calls onTurn), then onWake.
  expect(b.events).toEqual(['turn []', 'wake']);
});

test('msgRing: false (as on a kernel without MSG_RING): no msg_ring feature, wakes go by eventfd', async () => {
  const a = make('uring', false);
  const b = make('uring');
  expect(a.driver.features).not.toContain('msg_ring');
  expect(a.driver.wake(b.token)).toBe(0);
  await until(() => b.events.length > 0);
  expect(b.events).toEqual(['wake']);
  expect(a.driver.counters()).toMatchObject({ wakesMsgRing: 0, wakesEventfd: 1, enters: 0 });
  expect(b.driver.counters().ringWakes).toBe(0);
  // And a target without MSG_RING registered no ring: an io_uring sender writes its eventfd.
  expect(b.driver.wake(a.token)).toBe(0);
  await until(() => a.events.length > 0);
  expect(a.events).toEqual(['wake']);
  expect(b.driver.counters()).toMatchObject({ wakesMsgRing: 0, wakesEventfd: 1 });
});

test('io_uring to epoll and epoll to io_uring: the eventfd, both ways', async () => {
  const u = make('uring');
  const e = make('epoll');
  expect(u.driver.wake(e.token)).toBe(0);
  expect(e.driver.wake(u.token)).toBe(0);
  await until(() => u.events.length > 0 && e.events.length > 0);
  expect([u.events, e.events]).toEqual([['wake'], ['wake']]);
  expect(u.driver.counters()).toMatchObject({ wakesMsgRing: 0, wakesEventfd: 1, ringWakes: 0 });
  expect(e.driver.counters()).toMatchObject({ wakesMsgRing: 0, wakesEventfd: 1, ringWakes: 0 });
});

test("a closed driver's token is stale: -ESRCH, and drivers made after it (reusing slots and fd numbers) get nothing", async () => {
  const kind = isEpoll ? 'epoll' : 'uring';
  const a = make(kind);
  const b = make(kind);
  b.driver.close();
  expect(a.driver.wake(b.token)).toBe(ESRCH);
  expect(host.wake(b.token)).toBe(ESRCH);
  const later = [make(kind), make(kind)];
  for (const l of later) expect(l.token).not.toBe(b.token);
  for (let i = 0; i < 100; i++) expect(a.driver.wake(b.token)).toBe(ESRCH);
  await new Promise((r) => setTimeout(r, 30));
  for (const l of later) {
    expect(l.events).toEqual([]);
    expect(l.driver.counters().ringWakes).toBe(0);
  }
  expect(a.driver.counters()).toMatchObject({ wakesMsgRing: 0, wakesEventfd: 0 });
  // A closed driver still wakes others, through the eventfd.
  const c = make(kind);
  b.driver.wake(c.token);
  await until(() => c.events.length > 0);
  expect(c.events).toEqual(['wake']);
});

test("10,000 wakes in a loop: every one delivered (past the kernel CQ's size), onWake batched", async () => {
  const kind = isEpoll ? 'epoll' : 'uring';
  const a = make(kind);
  const b = make(kind);
  for (let i = 0; i < 10_000; i++) expect(a.driver.wake(b.token)).toBe(0);
  const path = isEpoll ? 'wakesEventfd' : 'wakesMsgRing';
  expect(a.driver.counters()[path]).toBe(10_000);
  if (!isEpoll) await until(() => b.driver.counters().ringWakes === 10_000);
  else await until(() => b.events.length > 0);
  await new Promise((r) => setTimeout(r, 20));
  if (!isEpoll) expect(b.driver.counters().ringWakes).toBe(10_000);
  // Fewer calls than wakes: one per turn, whatever that turn reaped. (With
  // DEFER_TASKRUN this kernel runs at most ~20 remote completions per
  // io_uring_enter, so 10,000 MSG_RINGs take hundreds of turns, some of them
  // requested ones, which call onTurn with nothing for the core.)
  const wakes = b.events.filter((e) => e === 'wake').length;
  expect(wakes).toBeGreaterThanOrEqual(1);
  expect(wakes).toBeLessThan(10_000 / 10);
  expect(b.events.every((e) => e === 'wake' || e === 'turn []')).toBe(true);
  expect(b.core.cqPending()).toBe(0);
});
