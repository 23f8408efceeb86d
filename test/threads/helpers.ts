// Shared by the thread tests.
import * as fs from 'node:fs';

import wt = require('node:worker_threads'); // the module object itself, to record its workers

import type { Launch, StartOptions, ThreadMain } from '../../src/index';
import { start as percoreStart } from '../../src/index';

/** OS threads of this process now (/proc/self/task): back to the baseline
 * once every worker has exited. */
export function osThreads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** Waits until `osThreads()` is at most `n` (threads are reaped shortly after 'exit'). */
export async function expectThreadsBackTo(n: number, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (osThreads() > n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(osThreads()).toBeLessThanOrEqual(n);
}

// --- teardown: a failed thread test must not leave threads running ---------
//
// A thread test that fails can leave a thread waiting for ever (on a channel
// nobody writes to any more), and a live worker, or thread 0's runtime with a
// parked operation, keeps jest's process alive: the run never ends. So every
// launch and every worker a thread test makes is recorded, and
// `endThreadsAfterEach()` ends what is still running after each test.

const launches = new Set<Launch>();
const workers = new Set<wt.Worker>();

// The launcher makes its workers with `new Worker` from node:worker_threads,
// looked up at each call: a subclass that records them sees every one.
const BaseWorker = wt.Worker;
class RecordedWorker extends BaseWorker {
  constructor(...args: ConstructorParameters<typeof BaseWorker>) {
    super(...args);
    workers.add(this);
    this.once('exit', () => workers.delete(this));
  }
}
(wt as { Worker: typeof BaseWorker }).Worker = RecordedWorker;

/** `start` from percore, recorded for `endThreadsAfterEach`. */
export function start<D = unknown>(options: StartOptions<D>, main: string | ThreadMain<D>): Launch {
  const launch = percoreStart(options, main);
  launches.add(launch);
  const settled = (): void => {
    launches.delete(launch);
  };
  launch.then(settled, settled);
  return launch;
}

/** After each test: stops every launch still running (thread 0's runtime is
 * closed by the launcher's force path) and terminates every worker still
 * alive, then waits for both. A test that passed has none. */
export function endThreadsAfterEach(): void {
  afterEach(async () => {
    const running = [...launches];
    for (const launch of running) launch.stop();
    await Promise.all([...workers].map((w) => w.terminate()));
    await Promise.all(running.map((launch) => launch.catch(() => undefined)));
  });
}
