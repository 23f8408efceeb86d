// Setting a socket option through the host (which knows each option's level
// and name, and refuses values out of range), with the error a failure means.
import { systemError } from '../errors/errors';
import type { Runtime } from '../runtime/runtime';

/** Sets layout option `option` (`SOCKOPT_*`) of `fd` to `value`; throws the system error. */
export function setNumericOption(rt: Runtime, fd: number, option: number, value: number): void {
  const res = rt.nativeDriver.setOption(fd, option, value);
  if (res < 0) throw systemError(res, 'setsockopt');
}
