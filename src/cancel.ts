// How `timeout()` reaches into a percore operation: the promise an operation
// returns carries its handler under `kCancel`, so a timeout can cancel the
// kernel operation itself (and get the buffer back) instead of abandoning it.
import type { PercoreError } from './errors';

export const kCancel = Symbol('percore.cancel');

/** A promise whose operation can be cancelled with a reason to reject with. */
export interface Cancellable {
  [kCancel]?: { cancel(reason: PercoreError): void };
}
