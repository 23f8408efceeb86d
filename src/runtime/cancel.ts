// How `timeout()` reaches into a percore operation: the promise an operation
// returns carries its handler under `kCancel`, so a timeout can cancel the
// kernel operation itself (and get the buffer back) instead of abandoning it.
import { abortError, type PercoreError } from '../errors/errors';

export const kCancel = Symbol('percore.cancel');

/** A promise whose operation can be cancelled with a reason to reject with. */
export interface Cancellable {
  [kCancel]?: { cancel(reason: PercoreError): void };
}

/** Makes `signal`'s abort cancel `op` with an `AbortError` carrying the
 * signal's reason. Returns the listener, for `removeEventListener` once the
 * operation settled. */
export function cancelOnAbort(signal: AbortSignal, op: { cancel(reason: PercoreError): void }): () => void {
  const listener = (): void => op.cancel(abortError(signal.reason));
  signal.addEventListener('abort', listener, { once: true });
  return listener;
}
