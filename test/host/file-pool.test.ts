// File ops that block: OPENAT of a FIFO for reading waits for a writer, which
// on the epoll driver holds one of the blocking pool's 4 threads per open;
// a fifth waits in the pool's queue, where a CANCEL withdraws it. io_uring's
// workers run all five at once (its CANCEL of a running open interrupts it or
// answers -EALREADY). Either way every open that succeeds is an fd the driver
// owns and closes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as L from '../../src/core/layout';
import { collect } from './fake-core';
import { closeAll, E, isEpoll, makeDriver } from './setup';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-pool-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(closeAll);

/** Opens `fifo` for writing without blocking, once a reader waits (ENXIO until then). */
function openWriter(fifo: string): number {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENXIO' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // the readers' threads are starting
    }
  }
}

test('OPENATs blocked on a FIFO: a CANCEL withdraws the queued one; the rest open once a writer comes', () => {
  const { core, driver } = makeDriver({ opCapacity: 16 });
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const len = core.writeBuffer(0, `${fifo}\0`);
  const opens = [1, 2, 3, 4, 5].map((slot) => core.id(slot));
  for (const id of opens) core.submit({ id, opcode: L.OP_OPENAT, fd: -1, addr: core.buffer(0), len });
  driver.flush();
  const cancelId = core.id(6);
  core.submit({ id: cancelId, opcode: L.OP_CANCEL, arg: BigInt(opens[4]) });
  let pending = new Set([...opens, cancelId]);
  const cqes = isEpoll ? collect(driver, core, 2) : [];
  if (isEpoll) {
    // The pool's four threads are all in openat: the fifth never started.
    expect(cqes).toEqual([
      { id: opens[4], res: -E.ECANCELED, flags: 0 },
      { id: cancelId, res: 0, flags: 0 },
    ]);
  }
  const writer = openWriter(fifo);
  try {
    for (const c of cqes) pending.delete(c.id);
    cqes.push(...collect(driver, core, pending.size));
  } finally {
    fs.closeSync(writer);
  }
  pending = new Set([...opens, cancelId]);
  for (const c of cqes) pending.delete(c.id);
  expect(pending.size).toBe(0);
  const fds = cqes.filter((c) => c.id !== cancelId && c.res >= 0).map((c) => c.res);
  expect(fds.length).toBeGreaterThanOrEqual(4);
  expect(driver.counters().openFds).toBe(fds.length);
  fds.forEach((fd, i) => {
    core.submit({ id: core.id(7 + i), opcode: L.OP_CLOSE, fd });
  });
  expect(collect(driver, core, fds.length).every((c) => c.res === 0)).toBe(true);
  expect(driver.counters().openFds).toBe(0);
});
