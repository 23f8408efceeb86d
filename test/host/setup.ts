// Shared by the host tests: one addon, drivers closed after each test.

import { constants } from 'os';
import { Driver, loadHost } from '../../src/host';
import { FakeCore, FakeCoreOptions } from './fake-core';

export const E = constants.errno;
export const host = loadHost();

/** The driver class under test: the epoll project sets PERCORE_DRIVER=epoll. */
export const isEpoll = process.env.PERCORE_DRIVER === 'epoll';
export const DriverClass = isEpoll ? host.EpollDriver : host.UringDriver;
export const driverName = isEpoll ? 'epoll' : 'io_uring';

const open: Driver[] = [];

/** A fake core and a driver attached to it; closed by `closeAll`. */
export function makeDriver(
  options: FakeCoreOptions = {},
  onTurn: () => number = () => -1,
  entries?: number,
): { core: FakeCore; driver: Driver } {
  const core = new FakeCore(options);
  const driver = new DriverClass(core.bytes, core.header, { onTurn, entries });
  open.push(driver);
  return { core, driver };
}

export function closeAll(): void {
  for (const driver of open.splice(0)) driver.close();
}

/** The fd, or fails the test with the errno the helper returned. */
export function ok<T>(value: T | number): T {
  if (typeof value === 'number' && value < 0) throw new Error(`host helper failed: ${value}`);
  return value as T;
}

/** A listening IPv4 socket on 127.0.0.1 and its port. */
export function listen(driver: Driver, core: FakeCore): { fd: number; port: number } {
  const fd = ok(driver.socket(4));
  expect(driver.encodeAddress('127.0.0.1', 0, core.addrStaging)).toBe(0);
  expect(driver.bind(fd)).toBe(0);
  expect(driver.listen(fd, 64)).toBe(0);
  const local = driver.localAddress(fd);
  if (typeof local === 'number') throw new Error(`localAddress: ${local}`);
  return { fd, port: local.port };
}
