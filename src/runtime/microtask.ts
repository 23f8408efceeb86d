// Queueing a microtask without Node's `queueMicrotask`, which wraps every
// callback in an AsyncResource and a bound function (async_hooks context for
// the callback): measurable on paths that queue one per loop turn or per
// corked write (docs/PERFORMANCE.md). A `then` on a settled promise is the
// same microtask without that. The callbacks queued here are percore's own
// and never throw; if one did, the rejection would surface as an unhandled
// rejection (which ends the process by default), never silently.

const SETTLED: Promise<void> = Promise.resolve();

/** Runs `fn` in a microtask of the current job (as `queueMicrotask` would). */
export function queueJob(fn: () => void): void {
  SETTLED.then(fn);
}
