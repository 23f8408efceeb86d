// Property-based fuzz of the host (issues 11 and 18): random SQEs and random
// core header fields against the driver, over a memory whose bytes around
// the core's regions hold a canary. Whatever it is given, the host must not
// crash, must refuse every SQE its checks can tell is bad with a negative
// errno (before the kernel sees it), and must never write outside the
// regions the header declares.

import fc from 'fast-check';
import * as L from '../../src/core/layout';
import type { Driver } from '../../src/driver/addon';
import { type Cqe, FakeCore } from './fake-core';
import { DriverClass } from './setup';

const CANARY = 0xa5;
const OP_CAPACITY = 16;

interface SqeSpec {
  idKind: 'ok' | 'gen0' | 'slotOut' | 'internal' | 'random';
  rawId: number;
  opcode: number;
  flags: number;
  fdKind: 'socket' | 'pipeR' | 'pipeW' | 'none' | 'stdio' | 'random';
  rawFd: number;
  addrKind: 'arena' | 'edge' | 'record' | 'random';
  rawAddr: number;
  len: number;
  aux: number;
  arg: bigint;
}

const sqeSpec: fc.Arbitrary<SqeSpec> = fc.record({
  idKind: fc.constantFrom('ok', 'ok', 'ok', 'gen0', 'slotOut', 'internal', 'random'),
  rawId: fc.nat(),
  opcode: fc.oneof(fc.integer({ min: 0, max: L.OP_COUNT }), fc.integer({ min: 0, max: 255 })),
  flags: fc.oneof(fc.constantFrom(0, 0, 1, 2, 3), fc.integer({ min: 0, max: 255 })),
  fdKind: fc.constantFrom('socket', 'pipeR', 'pipeW', 'none', 'stdio', 'random'),
  rawFd: fc.integer({ min: -5, max: 1 << 20 }),
  addrKind: fc.constantFrom('arena', 'edge', 'record', 'random'),
  rawAddr: fc.nat(),
  len: fc.oneof(fc.integer({ min: 0, max: 8192 }), fc.constantFrom(0, 1, 4096, 0xffffffff), fc.nat()),
  aux: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.nat()),
  // Timeouts stay short; other ops ignore arg or take -1 (current position).
  arg: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2_000_000n })),
});

/** Header fields the fuzz may overwrite before the driver is made (the
 * driver must then refuse the header or run safely on it). */
const STATIC_FIELDS = [
  L.H_OP_CAPACITY,
  L.H_SQ_ENTRIES,
  L.H_SQ_MASK,
  L.H_CQ_ENTRIES,
  L.H_CQ_MASK,
  L.H_ARENA,
  L.H_BUFFER_SIZE,
  L.H_BUFFER_COUNT,
  L.H_ADDR_RECORDS,
  L.H_ADDR_STAGING,
  L.H_MEMORY_END,
  L.H_PROVIDE_ENTRIES,
  L.H_PROVIDE_MASK,
  L.H_PROVIDE_COUNT,
];
/** Fields the core writes while running. */
const RUNNING_FIELDS = [L.H_CQ_HEAD, L.H_PROVIDE_TAIL];

/** Null three times in four: most runs exercise SQEs on a valid header. */
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: arb, weight: 1 });
const headerTweak = rarely(
  fc.record({
    field: fc.constantFrom(...STATIC_FIELDS),
    value: fc.oneof(fc.nat(), fc.integer({ min: 0, max: 1 << 18 }), fc.constantFrom(0, 1, 63, 64, 0xffffffff)),
  }),
);
const runningTweak = rarely(
  fc.record({ field: fc.constantFrom(...RUNNING_FIELDS), value: fc.oneof(fc.nat(), fc.integer({ min: 0, max: 64 })) }),
);

function fillCanaries(core: FakeCore): void {
  core.bytes.fill(CANARY, 0, core.header);
  core.bytes.fill(CANARY, core.memoryEnd);
}

function canariesIntact(core: FakeCore, memoryEnd: number): boolean {
  const b = core.bytes;
  for (let i = 0; i < core.header; i++) if (b[i] !== CANARY) return false;
  for (let i = Math.max(memoryEnd, core.memoryEnd); i < b.length; i++) if (b[i] !== CANARY) return false;
  return true;
}

/** What the host's checks must refuse, as far as this test can tell from
 * the SQE alone (a subset of CheckSqe: the test never needs the kernel). */
function mustRefuse(core: FakeCore, s: SqeSpec, id: number, fd: number, owned: Set<number>, addr: number): boolean {
  if (id === L.INTERNAL_ID) return s.opcode !== L.OP_CANCEL;
  if ((id & ((1 << L.SLOT_BITS) - 1)) >= core.opCapacity || id >>> L.SLOT_BITS === 0) return true;
  if (s.opcode >= L.OP_COUNT || s.opcode === L.OP_TIMER || s.opcode === L.OP_COPY) return true;
  const allowed =
    s.opcode === L.OP_ACCEPT
      ? L.SQE_F_MULTISHOT
      : s.opcode === L.OP_RECV
        ? L.SQE_F_MULTISHOT | L.SQE_F_BUFFER_SELECT
        : 0;
  if ((s.flags & ~allowed) !== 0) return true;
  // OPENAT and the path operations (v4) take fd -1 (the working directory)
  // and C strings inside the arena (the arena is all zeros here, so a path
  // that passes is "", which every such op answers with -ENOENT).
  const PATH_OPS = [L.OP_OPENAT, L.OP_RENAMEAT, L.OP_UNLINKAT, L.OP_MKDIRAT, L.OP_SYMLINKAT, L.OP_LINKAT];
  if (PATH_OPS.includes(s.opcode)) {
    const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
    return fd !== -1 || addr < core.arena || addr + s.len > arenaEnd;
  }
  const takesFd = ![L.OP_NOP, L.OP_TIMEOUT, L.OP_CANCEL].includes(s.opcode);
  if (takesFd && !owned.has(fd)) return true;
  const select = s.opcode === L.OP_RECV && (s.flags & L.SQE_F_BUFFER_SELECT) !== 0;
  if (select) return core.provided === 0 || s.len === 0 || s.len > core.bufferSize;
  if (s.opcode === L.OP_RECV && (s.flags & L.SQE_F_MULTISHOT) !== 0) return true;
  if ([L.OP_RECV, L.OP_SEND, L.OP_READ, L.OP_WRITE].includes(s.opcode)) {
    const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
    return addr < core.arena || addr + s.len > arenaEnd;
  }
  if (s.opcode === L.OP_CONNECT) {
    const rel = addr - core.addrRecords;
    return rel < 0 || rel % L.ADDR_RECORD_SIZE !== 0 || rel / L.ADDR_RECORD_SIZE >= core.opCapacity || s.len !== 32;
  }
  if (s.opcode === L.OP_FSYNC) return s.aux > L.FSYNC_F_DATASYNC;
  if (s.opcode === L.OP_FALLOCATE) return (s.aux & ~L.FALLOC_F_ALL) !== 0;
  if (s.opcode === L.OP_STATX) {
    const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
    return s.len !== L.STATX_SIZE || addr < core.arena || addr + s.len > arenaEnd;
  }
  return s.opcode === L.OP_SHUTDOWN && s.aux > 2;
}

test('random SQEs and header fields: no crash, every bad SQE refused, canaries intact', () => {
  const deadline = Date.now() + 8000;
  fc.assert(
    fc.property(
      fc.array(sqeSpec, { minLength: 1, maxLength: OP_CAPACITY }),
      headerTweak,
      runningTweak,
      fc.constantFrom(0, 4),
      (specs, tweak, running, provided) => {
        if (Date.now() > deadline) return; // bounded: later runs are skipped
        const core = new FakeCore({ opCapacity: OP_CAPACITY, bufferCount: 8, bufferSize: 4096, provided });
        fillCanaries(core);
        if (tweak !== null) core.setHeader(tweak.field, tweak.value);
        let driver: Driver;
        try {
          driver = new DriverClass(core.bytes, core.header, { onTurn: () => -1 });
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_PERCORE_LAYOUT_MISMATCH');
          expect(canariesIntact(core, core.memoryEnd)).toBe(true);
          return;
        }
        const declaredEnd = core.getHeader(L.H_MEMORY_END);
        try {
          if (provided > 0) core.provide(0, 1, 2, 3);
          const owned = new Map<string, number>();
          const sock = driver.socket(4);
          const pipe = driver.pipe();
          if (typeof sock === 'number' && sock >= 0) owned.set('socket', sock);
          if (Array.isArray(pipe)) {
            owned.set('pipeR', pipe[0]);
            owned.set('pipeW', pipe[1]);
          }
          const ownedFds = new Set(owned.values());
          const refused: number[] = [];
          specs.forEach((s, slot) => {
            const id =
              s.idKind === 'ok'
                ? core.id(slot, 1 + (s.rawId % 0x7fff))
                : s.idKind === 'gen0'
                  ? slot
                  : s.idKind === 'slotOut'
                    ? core.id(OP_CAPACITY + (s.rawId % 100))
                    : s.idKind === 'internal'
                      ? L.INTERNAL_ID
                      : s.rawId >>> 0;
            const fd =
              s.fdKind === 'none'
                ? -1
                : s.fdKind === 'stdio'
                  ? s.rawFd & 3
                  : s.fdKind === 'random'
                    ? s.rawFd
                    : (owned.get(s.fdKind) ?? -1);
            const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
            const addr =
              s.addrKind === 'arena'
                ? core.arena + (s.rawAddr % (arenaEnd - core.arena))
                : s.addrKind === 'edge'
                  ? arenaEnd - (s.rawAddr % 64)
                  : s.addrKind === 'record'
                    ? core.addrRecords +
                      (s.rawAddr % (OP_CAPACITY + 2)) * (s.rawAddr % 3 === 0 ? 1 : L.ADDR_RECORD_SIZE)
                    : s.rawAddr >>> 0;
            core.submit({ id, opcode: s.opcode, flags: s.flags, fd, addr, len: s.len, aux: s.aux, arg: s.arg });
            if (tweak === null && mustRefuse(core, s, id, fd, ownedFds, addr)) refused.push(id);
          });
          if (running !== null) core.setHeader(running.field, running.value);
          const cqes: Cqe[] = [];
          for (let i = 0; i < 3; i++) {
            driver.poll(0);
            if (running === null) cqes.push(...core.takeCqes());
          }
          for (const id of running === null ? refused : []) {
            const at = cqes.findIndex((c) => c.id === id && c.res < 0);
            expect(at).toBeGreaterThanOrEqual(0);
            cqes.splice(at, 1);
          }
        } finally {
          driver.close();
        }
        expect(canariesIntact(core, declaredEnd)).toBe(true);
      },
    ),
    { numRuns: 400, seed: Number(process.env.FUZZ_SEED ?? 1234) },
  );
});

// What the fuzz found first: a region declared below the header (the core's
// static data) passed the header check, and the host wrote CQEs there.
test('a region below the header is refused at construction', () => {
  for (const field of [L.H_CQ_ENTRIES, L.H_SQ_ENTRIES, L.H_PROVIDE_ENTRIES, L.H_ADDR_STAGING]) {
    const core = new FakeCore();
    core.setHeader(field, 0);
    let error: { code?: string } | undefined;
    try {
      new DriverClass(core.bytes, core.header, { onTurn: () => -1 }).close();
    } catch (e) {
      error = e as { code?: string };
    }
    expect(error?.code).toBe('ERR_PERCORE_LAYOUT_MISMATCH');
  }
});
