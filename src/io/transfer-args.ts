// The arguments every rent-style read or write takes, `(buf, length?,
// options?)` or `(buf, options?)`, checked once for every kind of descriptor
// (streams and files alike).
import { codedError, invalidArgType, type PercoreError } from '../errors/errors';
import { validateInteger, validateSignal, validateUint8Array } from '../errors/validate';
import type { IoOptions } from './rent';
import { withBuffer } from './stream-op';

/** What `transferArgs` found: the bytes to move and the call's signal. */
export interface TransferArgs {
  limit: number;
  signal: AbortSignal | undefined;
}

/** Checks `buf` and the optional `length` and `options` of a read or write;
 * throws a coded error (carrying `buf` when it is the buffer's fault). */
export function transferArgs(
  buf: Uint8Array,
  lengthOrOptions: number | IoOptions | undefined,
  options: IoOptions | undefined,
): TransferArgs {
  validateUint8Array(buf, 'buf');
  if (buf.byteLength === 0 && isDetached(buf)) throw withBuffer(detachedArg(), buf);
  let limit: number;
  if (typeof lengthOrOptions === 'number') {
    validateInteger(lengthOrOptions, 'length', 0, buf.length);
    limit = lengthOrOptions;
  } else {
    if (lengthOrOptions !== undefined && options !== undefined) {
      throw invalidArgType('length', 'of type number', lengthOrOptions);
    }
    options = lengthOrOptions ?? options;
    limit = buf.length;
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgType('options', 'of type object', options);
  }
  validateSignal(options?.signal, 'options.signal');
  return { limit, signal: options?.signal };
}

/** Whether `buf` (of length 0) lies over a detached (transferred) ArrayBuffer.
 * Node 20 has no `ArrayBuffer.prototype.detached`: making a view of a
 * detached buffer throws there. Only asked of empty arrays: a live one is
 * never detached. */
function isDetached(buf: Uint8Array): boolean {
  const ab = buf.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof ab.detached === 'boolean') return ab.detached;
  try {
    new Uint8Array(ab);
    return false;
  } catch {
    return true;
  }
}

function detachedArg(): PercoreError {
  return codedError(
    'ERR_INVALID_STATE',
    'The "buf" argument is detached (its ArrayBuffer was transferred): it has no memory to read into or write from',
  );
}
