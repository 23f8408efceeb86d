// A runtime's counters, read from the core's counter words and the driver's
// (see `RuntimeCounters` for what each means).
import type { CoreExports } from '../core/wasm';
import type { Driver } from '../driver/addon';
import type { RuntimeCounters } from './options';

/** The core's counter words, by index (assembly/counters.ts). */
const SUBMITTED = 1;
const COMPLETED = 2;
const BUFFERS_LENT = 3;
const BUFFERS_HELD = 4;
const TIMERS = 5;
const BUFFERS_PROVIDED = 7;

/** What a runtime holds right now; `driver` is undefined once it is closed. */
export function readCounters(
  core: CoreExports,
  driver: Driver | undefined,
  held: { tasks: number; parked: number },
): RuntimeCounters {
  const host = driver?.counters() ?? { enters: 0, openFds: 0, wakesMsgRing: 0, wakesEventfd: 0 };
  return {
    opsInFlight: driver === undefined ? 0 : core.counter(SUBMITTED) - core.counter(COMPLETED),
    submitted: core.counter(SUBMITTED),
    completed: core.counter(COMPLETED),
    ringEnters: host.enters,
    buffersLent: core.counter(BUFFERS_LENT),
    buffersHeld: core.counter(BUFFERS_HELD),
    buffersProvided: core.counter(BUFFERS_PROVIDED),
    openFds: host.openFds,
    timers: core.counter(TIMERS),
    tasks: held.tasks,
    parked: held.parked,
    wakesMsgRing: host.wakesMsgRing,
    wakesEventfd: host.wakesEventfd,
  };
}
