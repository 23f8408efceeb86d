// Shared by the thread tests.
import * as fs from 'node:fs';

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
