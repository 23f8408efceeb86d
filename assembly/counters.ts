// The counters behind counter(k). Totals are u64 and reported as f64 (exact
// up to 2^53), so a long-running process never sees them wrap.
import { opsInUseCount } from "./ops";
import { buffersHeld, buffersLent, buffersProvided } from "./buffers";
import { timersArmed } from "./timers";

let submittedTotal: u64 = 0;
let completedTotal: u64 = 0;
let staleTotal: u64 = 0;

export function countersReset(): void {
  submittedTotal = 0;
  completedTotal = 0;
  staleTotal = 0;
}

/// An op was accepted by a submit or timerStart.
export function countSubmitted(): void { submittedTotal++; }
/// An op stopped being in flight: its final completion arrived (CQE, timer
/// fired or cancelled), or it was an abandoned timer taken off the wheel.
export function countCompleted(): void { completedTotal++; }
/// A CQE named no op that could complete: dropped.
export function countStale(): void { staleTotal++; }

/// Ops in flight (queued, submitted or armed): submitted minus completed.
export function inFlight(): u64 { return submittedTotal - completedTotal; }

export function counter(k: i32): f64 {
  switch (k) {
    case 0: return <f64>opsInUseCount();
    case 1: return <f64>submittedTotal;
    case 2: return <f64>completedTotal;
    case 3: return <f64>buffersLent();
    case 4: return <f64>buffersHeld();
    case 5: return <f64>timersArmed();
    case 6: return <f64>staleTotal;
    case 7: return <f64>buffersProvided();
    default: return -1;
  }
}
