// Shared by the host tests: one addon, drivers closed after each test.

import { constants } from 'node:os';
import * as L from '../../src/core/layout';
import { type Driver, type DriverOptions, loadAddon } from '../../src/driver/addon';
import { type Cqe, collect, FakeCore, type FakeCoreOptions } from './fake-core';

export const E = constants.errno;
export const host = loadAddon();

/** The driver class under test: the epoll project sets PERCORE_DRIVER=epoll. */
export const isEpoll = process.env.PERCORE_DRIVER === 'epoll';
export const DriverClass = isEpoll ? host.EpollDriver : host.UringDriver;
export const driverName = isEpoll ? 'epoll' : 'io_uring';
/** Its export name in the addon, for code that loads the addon itself (a child process, a worker). */
export const driverExport = isEpoll ? 'EpollDriver' : 'UringDriver';

const open: Driver[] = [];

/** A fake core and a driver attached to it; closed by `closeAll`. */
export function makeDriver(
  options: FakeCoreOptions = {},
  onTurn: () => number = () => -1,
  entries?: number,
  driverOptions: Pick<DriverOptions, 'msgRing' | 'pbufRing'> = {},
): { core: FakeCore; driver: Driver } {
  const core = new FakeCore(options);
  const driver = new DriverClass(core.bytes, core.header, { ...driverOptions, onTurn, entries });
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

/** The one CQE of op `id` among `cqes` (fails the test unless exactly one). */
export function byId(cqes: Cqe[], id: number): Cqe {
  const found = cqes.filter((c) => c.id === id);
  expect(found).toHaveLength(1);
  return found[0];
}

/** Connects a new client to `port`: returns [clientFd, acceptedFd]. */
export function connectPair(driver: Driver, core: FakeCore, listener: number, port: number): [number, number] {
  const client = ok(driver.socket(4));
  expect(driver.encodeAddress('127.0.0.1', port, core.addrRecord(2))).toBe(0);
  core.submit({ id: core.id(1), opcode: L.OP_ACCEPT, fd: listener });
  core.submit({ id: core.id(2), opcode: L.OP_CONNECT, fd: client, addr: core.addrRecord(2), len: L.ADDR_RECORD_SIZE });
  const cqes = collect(driver, core, 2);
  expect(byId(cqes, core.id(2)).res).toBe(0);
  const accepted = byId(cqes, core.id(1)).res;
  expect(accepted).toBeGreaterThanOrEqual(0);
  return [client, accepted];
}
