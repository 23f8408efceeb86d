// Driver selection: which host class a runtime uses, and why.
//
// `auto` prefers io_uring. A trial ring (the host's probeUring: setup plus
// IORING_REGISTER_PROBE for every opcode percore submits) tells whether this
// process may have one; if not, or if the real ring then fails (a memlock
// limit too small for its size), the readiness driver of the platform runs
// and `reason` says why, naming the errno. A forced `uring` that cannot be had
// is an error with that errno as its code. The option wins over the
// PERCORE_DRIVER environment variable.
//
// `sim` is the simulation host (src/sim/), written in TypeScript: it is not
// in the addon, so it registers its class here when its module loads
// (`registerDriver`), and the runtime asks `driverFor` rather than the addon.

import { codedError, type PercoreError } from '../errors/errors';
import { type AddonModule, type DriverConstructor, loadAddon, type UringProbe } from './addon';

export type DriverName = 'auto' | 'uring' | 'epoll' | 'kqueue' | 'sim';

const NAMES: readonly string[] = ['auto', 'uring', 'epoll', 'kqueue', 'sim'];
const LISTED = "'auto', 'uring', 'epoll', 'kqueue', 'sim'";

/** Driver classes that live outside the addon, by name (the simulation host). */
const registered = new Map<DriverName, DriverConstructor>();

/** Makes `cls` the class of driver `name` (src/sim/ registers `sim` when it loads). */
export function registerDriver(name: 'sim', cls: DriverConstructor): void {
  registered.set(name, cls);
}

/** The choice for `name`: a registered class (the simulation host), else the addon's. */
export function driverFor(name: DriverName): DriverChoice {
  if (name === 'sim') {
    const cls = registered.get(name);
    if (cls === undefined)
      throw codedError(
        'ERR_INVALID_ARG_VALUE',
        "The driver 'sim' is not available: load percore's simulation (src/sim/, part of the 'percore' package)",
        TypeError,
      );
    return fixed(cls);
  }
  return chooseDriver(loadAddon(), name);
}

/** The driver asked for: the option, else PERCORE_DRIVER, else `auto`. Throws
 * ERR_INVALID_ARG_VALUE for a name that is not a driver. */
export function requestedDriver(option: unknown): DriverName {
  if (option !== undefined) {
    if (typeof option !== 'string' || !NAMES.includes(option)) {
      throw codedError(
        'ERR_INVALID_ARG_VALUE',
        `The property 'options.driver' must be one of ${LISTED}. Received ${typeof option === 'string' ? `'${option}'` : String(option)}`,
        TypeError,
      );
    }
    return option as DriverName;
  }
  const env = process.env.PERCORE_DRIVER;
  if (env === undefined || env === '') return 'auto';
  if (!NAMES.includes(env)) {
    throw codedError(
      'ERR_INVALID_ARG_VALUE',
      `The environment variable PERCORE_DRIVER must be one of ${LISTED}. Received '${env}'`,
      TypeError,
    );
  }
  return env as DriverName;
}

/** A driver class to construct, and why it was chosen over io_uring (null
 * when io_uring is used or was asked for by name). */
export interface DriverChoice {
  /** Constructs the driver; for `auto` with io_uring it falls back on failure. */
  create<T>(construct: (cls: DriverConstructor) => T): { driver: T; reason: string | null };
}

function uringError(probe: UringProbe): PercoreError {
  const missing = probe.missing.length > 0 ? ` (missing: ${probe.missing.join(', ')})` : '';
  const err = codedError(probe.code ?? 'EIO', `io_uring is not available (${probe.code}): ${probe.reason}${missing}`);
  (err as PercoreError & { errno?: number }).errno = probe.errno;
  err.syscall = 'io_uring_setup';
  return err;
}

/** The readiness driver of this platform. */
function legacy(host: AddonModule): DriverConstructor | undefined {
  return host.EpollDriver ?? host.KqueueDriver;
}

function requireClass(cls: DriverConstructor | undefined, name: string, why: string): DriverConstructor {
  if (cls === undefined)
    throw codedError('ERR_INVALID_ARG_VALUE', `The driver '${name}' is not available: ${why}`, TypeError);
  return cls;
}

export function chooseDriver(host: AddonModule, name: DriverName): DriverChoice {
  switch (name) {
    case 'epoll':
      return fixed(requireClass(host.EpollDriver, 'epoll', 'epoll is only built on Linux'));
    case 'kqueue':
      return fixed(requireClass(host.KqueueDriver, 'kqueue', 'kqueue is only built on macOS/BSD'));
    case 'uring': {
      const cls = requireClass(host.UringDriver, 'uring', 'io_uring is only built on Linux');
      const probe = host.probeUring!();
      if (!probe.ok) throw uringError(probe);
      return fixed(cls);
    }
    default: {
      const fallback = requireClass(legacy(host), 'auto', 'this build has no driver');
      if (host.UringDriver === undefined || host.probeUring === undefined) {
        return fixed(fallback, 'io_uring is Linux-only');
      }
      const probe = host.probeUring();
      if (!probe.ok) {
        const missing = probe.missing.length > 0 ? ` (missing: ${probe.missing.join(', ')})` : '';
        return fixed(fallback, `io_uring unavailable (${probe.code}): ${probe.reason}${missing}`);
      }
      const uring = host.UringDriver;
      return {
        create<T>(construct: (cls: DriverConstructor) => T) {
          try {
            return { driver: construct(uring), reason: null };
          } catch (err) {
            // The trial ring worked but the real one did not (a larger ring
            // over the memlock limit): fall back, saying why. A layout
            // mismatch is not the kernel's doing: it is thrown as is.
            const code = (err as PercoreError).code;
            if (
              code === undefined ||
              code === 'ERR_PERCORE_LAYOUT_MISMATCH' ||
              err instanceof TypeError ||
              err instanceof RangeError
            )
              throw err;
            return { driver: construct(fallback), reason: `io_uring unavailable (${code}): ${(err as Error).message}` };
          }
        },
      };
    }
  }
}

function fixed(cls: DriverConstructor, reason: string | null = null): DriverChoice {
  return { create: (construct) => ({ driver: construct(cls), reason }) };
}
