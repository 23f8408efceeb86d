// Every Error percore throws or rejects with is built here, in Node's style:
// a `code` a program can switch on, and for system errors `errno` (negative,
// as Node reports it) and `syscall`.
import { errnoName } from './errno';

/** An Error with Node's extra fields. `buffer` is set when an operation that
 * had rented a buffer fails: the buffer comes back with the error. */
export interface PercoreError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  /** File operations: the path the call was given. */
  path?: string;
  /** Two-path file operations (rename, link, symlink): the second path. */
  dest?: string;
  address?: string;
  port?: number;
  buffer?: Uint8Array;
  bytesRead?: number;
  /** `copy()`: bytes written to the destination before it failed. */
  bytesCopied?: number;
  /** `copy()`: bytes taken from the source and not written to the destination
   * when it failed, in order (empty when none were left over): nothing is lost. */
  unwritten?: Uint8Array;
  /** HTTP: the status a malformed request was (or would be) answered with. */
  status?: number;
}

/** An Error with a `code` (e.g. `ERR_INVALID_ARG_TYPE`), like Node's own. */
export function codedError(code: string, message: string, ErrorClass: ErrorConstructor = Error): PercoreError {
  const err = new ErrorClass(message) as PercoreError;
  err.code = code;
  return err;
}

/** A system error for a negative result `res` (−errno) of `syscall`, with the
 * message Node would print: `read ECONNRESET`. */
export function systemError(res: number, syscall: string, detail?: string): PercoreError {
  const code = errnoName(-res);
  const err = new Error(`${syscall} ${code}${detail ? ` ${detail}` : ''}`) as PercoreError;
  err.code = code;
  err.errno = res;
  err.syscall = syscall;
  return err;
}

export function invalidArgType(name: string, expected: string, actual: unknown): PercoreError {
  return codedError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
    TypeError,
  );
}

export function outOfRange(name: string, range: string, actual: unknown): PercoreError {
  return codedError(
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${describe(actual)}`,
    RangeError,
  );
}

export function invalidArgValue(name: string, actual: unknown, reason: string): PercoreError {
  return codedError(
    'ERR_INVALID_ARG_VALUE',
    `The argument '${name}' ${reason}. Received ${describe(actual)}`,
    TypeError,
  );
}

export function socketClosed(what: string): PercoreError {
  return codedError('ERR_SOCKET_CLOSED', `${what} is closed`);
}

/** A buffer passed to an operation while another operation still owns it. */
export function bufferInFlight(): PercoreError {
  return codedError(
    'ERR_PERCORE_BUFFER_IN_FLIGHT',
    'the buffer is owned by an operation still in flight: use it again once that operation hands it back',
  );
}

export function runtimeClosed(): PercoreError {
  return codedError('ERR_PERCORE_RUNTIME_CLOSED', 'the percore runtime is closed');
}

/** The error an aborted operation rejects with: Node's AbortError shape. */
export function abortError(reason: unknown): PercoreError {
  const err = codedError('ABORT_ERR', 'The operation was aborted');
  err.name = 'AbortError';
  (err as Error).cause = reason;
  return err;
}

/** The error `timeout()` rejects with when the time runs out. */
export function timeoutError(ms: number): PercoreError {
  const err = codedError('ETIMEDOUT', `the operation timed out after ${ms} ms`);
  err.name = 'TimeoutError';
  return err;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  const text =
    typeof value === 'string' ? `'${value.length > 28 ? `${value.slice(0, 25)}...` : value}'` : String(value);
  return `type ${typeof value} (${text})`;
}
