// The host refuses memory it cannot pin (issue 11): the kernel writes into
// the core's memory whenever it likes, so a driver accepts only memory nobody
// can free under it (a WebAssembly.Memory's buffer, or a SharedArrayBuffer),
// and stops before any SQE is taken from a memory that was detached since.

import * as L from '../../src/core/layout';
import type { DriverConstructor } from '../../src/driver/addon';
import { Runtime } from '../../src/index';
import { collect, FakeCore } from './fake-core';
import { closeAll, DriverClass, makeDriver } from './setup';

afterEach(closeAll);

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

/** A valid layout copied into a plain, detachable ArrayBuffer. */
function plainCopy(core: FakeCore): { buf: ArrayBuffer; bytes: Uint8Array } {
  const buf = new ArrayBuffer(core.bytes.length);
  const bytes = new Uint8Array(buf);
  bytes.set(core.bytes);
  return { buf, bytes };
}

test('a view over a detachable ArrayBuffer is refused; detaching it afterwards crashes nothing', () => {
  const core = new FakeCore();
  const { buf, bytes } = plainCopy(core);
  let driver: { close(): void; flush(): number } | undefined;
  const error = thrown(() => {
    driver = new DriverClass(bytes, core.header, { onTurn: () => -1 });
  });
  expect(error.code).toBe('ERR_PERCORE_MEMORY_DETACHABLE');
  expect(driver).toBeUndefined();
  // The program detaches (transfers) it, and writes an SQE into where the
  // memory went: nothing can take it, since no driver exists.
  try {
    structuredClone(buf, { transfer: [buf] });
  } catch {
    // already detached by the host's check
  }
  expect(buf.byteLength).toBe(0);
});

test('a view over a shared WebAssembly.Memory is accepted and runs', () => {
  const core = new FakeCore();
  const pages = Math.ceil(core.bytes.length / 65536);
  const shared = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const bytes = new Uint8Array(shared.buffer);
  bytes.set(core.bytes);
  const driver = new DriverClass(bytes, core.header, { onTurn: () => -1 });
  try {
    // Drive it through the shared bytes: the fake core's helpers view its own
    // memory, so write the SQE there and copy it over.
    core.submit({ id: core.id(1), opcode: L.OP_NOP });
    bytes.set(core.bytes);
    driver.poll(0);
    const tail = new DataView(shared.buffer).getUint32(core.header + L.H_CQ_TAIL, true);
    expect(tail).toBe(1);
  } finally {
    driver.close();
  }
});

test('a WebAssembly.Memory grown after construction (its buffer detached) stops the driver: no SQE is taken', () => {
  const { core, driver } = makeDriver();
  core.submit({ id: core.id(1), opcode: L.OP_NOP });
  expect(collect(driver, core, 1)).toHaveLength(1);
  core.memory.grow(1); // detaches core.bytes' buffer
  const after = new DataView(core.memory.buffer);
  const tail = () => after.getUint32(core.header + L.H_SQ_TAIL, true);
  after.setUint32(core.header + L.H_SQ_TAIL, tail() + 1, true); // an SQE slot, reused: a NOP again
  const error = thrown(() => driver.flush());
  expect(error.code).toBe('ERR_PERCORE_MEMORY_DETACHED');
  expect(after.getUint32(core.header + L.H_SQ_HEAD, true)).toBe(1); // not taken
  expect(after.getUint32(core.header + L.H_CQ_TAIL, true)).toBe(1);
  // Closed: later calls do nothing and throw nothing.
  expect(driver.flush()).toBe(0);
  expect(driver.poll(0)).toBe(0);
  expect(driver.socket(4)).toBe(-9);
});

test("the same through the runtime's own driver class (Runtime.current().nativeDriver.constructor)", () => {
  const rt = new Runtime();
  try {
    const Ctor = rt.nativeDriver.constructor as DriverConstructor;
    const core = new FakeCore();
    const { bytes } = plainCopy(core);
    expect(thrown(() => new Ctor(bytes, core.header, { onTurn: () => -1 })).code).toBe('ERR_PERCORE_MEMORY_DETACHABLE');
  } finally {
    rt.close();
  }
});
