// Argument checks shared by the public API: each throws the Node-style error
// a caller of node:net would get for the same mistake.
import { isUint8Array } from 'node:util/types';
import { invalidArgType, outOfRange } from './errors';

export function validateInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} and <= ${max}`, value);
}

export function validateUint8Array(value: unknown, name: string): asserts value is Uint8Array {
  if (!isUint8Array(value)) throw invalidArgType(name, 'an instance of Uint8Array (or Buffer)', value);
}

export function validateSignal(value: unknown, name: string): asserts value is AbortSignal | undefined {
  // Duck-typed: an AbortSignal from another realm (a vm context, jest) is still a signal.
  const signal = value as AbortSignal | undefined;
  if (
    signal !== undefined &&
    (signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')
  ) {
    throw invalidArgType(name, 'an instance of AbortSignal', value);
  }
}

/** A delay in milliseconds, as timers take it: 0 ..= 2^31. */
export function validateMs(ms: unknown, name: string): asserts ms is number {
  if (typeof ms !== 'number') throw invalidArgType(name, 'of type number', ms);
  if (!(ms >= 0) || ms > 2 ** 31) throw outOfRange(name, '>= 0 and <= 2147483648', ms);
}
