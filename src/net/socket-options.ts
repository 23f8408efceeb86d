// Socket options by name: the host knows each option's level and name and
// refuses values out of range (-EINVAL, before the kernel sees them); here
// are the names the API takes, their checks, and reading them back.
import * as L from '../core/layout';
import { invalidArgType, systemError } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import type { Runtime } from '../runtime/runtime';

/** Options of a connected TCP stream (`TcpStream.setOptions`). */
export interface StreamSocketOptions {
  /** TCP_NODELAY. */
  noDelay?: boolean;
  /** SO_KEEPALIVE, and with an object its timings (TCP_KEEPIDLE,
   * TCP_KEEPINTVL, TCP_KEEPCNT): seconds idle before the first probe,
   * seconds between probes, probes before the connection is dropped. */
  keepAlive?: boolean | { idle?: number; interval?: number; count?: number };
  /** SO_LINGER: seconds `close` waits for unsent data (0: reset at once),
   * or null: off (the default: close returns at once, the kernel sends on). */
  linger?: number | null;
  /** SO_RCVBUF / SO_SNDBUF in bytes (the kernel doubles them, and reads back the doubled size). */
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

/** What `getOption` reads back. */
export type StreamOptionName =
  | 'noDelay'
  | 'keepAlive'
  | 'keepIdle'
  | 'keepInterval'
  | 'keepCount'
  | 'linger'
  | 'receiveBufferSize'
  | 'sendBufferSize';

const NUMBERS: Record<StreamOptionName, number> = {
  noDelay: L.SOCKOPT_NODELAY,
  keepAlive: L.SOCKOPT_KEEPALIVE,
  keepIdle: L.SOCKOPT_KEEPIDLE,
  keepInterval: L.SOCKOPT_KEEPINTVL,
  keepCount: L.SOCKOPT_KEEPCNT,
  linger: L.SOCKOPT_LINGER,
  receiveBufferSize: L.SOCKOPT_RCVBUF,
  sendBufferSize: L.SOCKOPT_SNDBUF,
};

/** Sets layout option `option` (`SOCKOPT_*`) of `fd` to `value`; throws the system error. */
export function setNumericOption(rt: Runtime, fd: number, option: number, value: number): void {
  const res = rt.nativeDriver.setOption(fd, option, value);
  if (res < 0) throw systemError(res, 'setsockopt');
}

/** Applies `options` to `fd`, in the order given; throws on the first failure. */
export function applyStreamOptions(rt: Runtime, fd: number, options: StreamSocketOptions): void {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  if (options.noDelay !== undefined) setNumericOption(rt, fd, L.SOCKOPT_NODELAY, options.noDelay ? 1 : 0);
  const keepAlive = options.keepAlive;
  if (keepAlive !== undefined) {
    setNumericOption(rt, fd, L.SOCKOPT_KEEPALIVE, keepAlive === false ? 0 : 1);
    if (typeof keepAlive === 'object') {
      const timings: [number | undefined, number, string, number][] = [
        [keepAlive.idle, L.SOCKOPT_KEEPIDLE, 'options.keepAlive.idle', 32767],
        [keepAlive.interval, L.SOCKOPT_KEEPINTVL, 'options.keepAlive.interval', 32767],
        [keepAlive.count, L.SOCKOPT_KEEPCNT, 'options.keepAlive.count', 127],
      ];
      for (const [value, option, name, max] of timings) {
        if (value === undefined) continue;
        validateInteger(value, name, 1, max);
        setNumericOption(rt, fd, option, value);
      }
    }
  }
  if (options.linger !== undefined) {
    if (options.linger !== null) validateInteger(options.linger, 'options.linger', 0, 65535);
    setNumericOption(rt, fd, L.SOCKOPT_LINGER, options.linger ?? -1);
  }
  for (const [value, option, name] of [
    [options.receiveBufferSize, L.SOCKOPT_RCVBUF, 'options.receiveBufferSize'],
    [options.sendBufferSize, L.SOCKOPT_SNDBUF, 'options.sendBufferSize'],
  ] as const) {
    if (value === undefined) continue;
    validateInteger(value, name, 1, 2 ** 30);
    setNumericOption(rt, fd, option, value);
  }
}

/** Reads option `name` of `fd` back: a boolean for on/off options, seconds
 * or null for `linger`, else a number. */
export function readStreamOption(rt: Runtime, fd: number, name: StreamOptionName): boolean | number | null {
  const option = NUMBERS[name];
  if (option === undefined) throw invalidArgType('name', `one of ${Object.keys(NUMBERS).join(', ')}`, name);
  const res = rt.nativeDriver.getOption(fd, option);
  if (res < 0) throw systemError(res, 'getsockopt');
  if (name === 'noDelay' || name === 'keepAlive') return res === 1;
  if (name === 'linger') return res === LINGER_OFF ? null : res;
  return res;
}

/** SOCKOPT_LINGER as the host reads it back when off. */
const LINGER_OFF = 65536;
