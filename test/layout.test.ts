// The memory layout is defined once per language; this proves the three agree:
// the core's table (exported by the Wasm module), the host's (exported by the
// addon) and the TypeScript one, entry by entry and by name.

import { H_MAGIC, H_VERSION, LAYOUT_MAGIC, LAYOUT_TABLE, LAYOUT_VERSION } from '../src/core/layout';
import { createCore } from '../src/core/wasm';
import { loadAddon } from '../src/driver/addon';

const names = LAYOUT_TABLE.map(([name]) => name);
const ours = LAYOUT_TABLE.map(([, value]) => value);

test('the core, the host and the glue have the same layout table', () => {
  const core = createCore().exports;
  const fromCore = Array.from({ length: core.layoutTableLength() }, (_, i) => core.layoutTable(i) >>> 0);
  const fromHost = loadAddon().layoutTable.map((v: number) => v >>> 0);
  const label = (values: number[]) => Object.fromEntries(values.map((v, i) => [names[i] ?? `#${i}`, v]));
  expect(label(fromCore)).toEqual(label(ours));
  expect(label(fromHost)).toEqual(label(ours));
  expect(fromCore.length).toBe(ours.length);
  expect(fromHost.length).toBe(ours.length);
});

test('a core with another layout version is refused by the host with a clear error', () => {
  const { memory, exports } = createCore();
  const header = exports.init(16, 4, 4096, 64);
  expect(header).toBeGreaterThan(0);
  const bytes = new Uint8Array(memory.buffer);
  const words = new DataView(memory.buffer);
  expect(words.getUint32(header + H_MAGIC, true)).toBe(LAYOUT_MAGIC);
  expect(words.getUint32(header + H_VERSION, true)).toBe(LAYOUT_VERSION);
  words.setUint32(header + H_VERSION, LAYOUT_VERSION + 1, true);
  // The driver of this jest project (its setup file sets PERCORE_DRIVER).
  const host = loadAddon();
  const Driver = process.env.PERCORE_DRIVER === 'epoll' ? host.EpollDriver : host.UringDriver;
  expect(Driver.name).toBe(process.env.PERCORE_DRIVER === 'epoll' ? 'EpollDriver' : 'UringDriver');
  expect(() => new Driver(bytes, header, { onTurn: () => -1 })).toThrow(
    expect.objectContaining({
      code: 'ERR_PERCORE_LAYOUT_MISMATCH',
      message: expect.stringMatching(
        new RegExp(`${LAYOUT_VERSION + 1}.*${LAYOUT_VERSION}|${LAYOUT_VERSION}.*${LAYOUT_VERSION + 1}`),
      ),
    }),
  );
});
