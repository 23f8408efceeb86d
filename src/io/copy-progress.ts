// What a copy that ended early reports, whichever relay ran it: how many
// bytes reached `to`, and the bytes taken from `from` that `to` never got.
import type { PercoreError } from '../errors/errors';

export const EMPTY = new Uint8Array(0);

export function withProgress(err: PercoreError, copied: number, unwritten: Uint8Array): PercoreError {
  err.bytesCopied = copied;
  err.unwritten = unwritten;
  return err;
}
