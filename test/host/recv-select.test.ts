// A buffer-select RECV through the real kernel, driven with poll(): the host
// picks a recv-set buffer when data arrives. On io_uring both ways run: the
// registered buffer ring (IORING_REGISTER_PBUF_RING) and the emulation older
// kernels get (pbufRing: false); on epoll, the readiness driver's pick set.

import * as L from '../../src/core/layout';
import type { Driver } from '../../src/driver/addon';
import { type Cqe, collect, type FakeCore } from './fake-core';
import { byId, closeAll, connectPair, host, isEpoll, listen, makeDriver } from './setup';

afterEach(closeAll);

const modes: Array<[string, boolean | undefined, string]> = isEpoll
  ? [['epoll pick set', undefined, 'recv_select']]
  : [
      ['buffer ring', true, 'pbuf_ring'],
      ['emulation', false, 'recv_select_emulated'],
    ];

const SEND_BUF = 5; // outside the recv set [0, 3)

describe.each(modes)('buffer-select RECV (%s)', (_name, pbufRing, feature) => {
  function setup(): { core: FakeCore; driver: Driver; client: number; server: number } {
    const { core, driver } = makeDriver(
      { provided: 3, bufferCount: 8, bufferSize: 4096 },
      undefined,
      undefined,
      pbufRing === undefined ? {} : { pbufRing },
    );
    const { fd, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, fd, port);
    return { core, driver, client, server };
  }

  /** Sends `text` from `fd` out of a buffer outside the recv set; returns the
   * other CQEs that arrived with the send's. */
  function send(core: FakeCore, driver: Driver, fd: number, text: string): Cqe[] {
    const len = core.writeBuffer(SEND_BUF, text);
    core.submit({ id: core.id(9), opcode: L.OP_SEND, fd, addr: core.buffer(SEND_BUF), len });
    const cqes = collect(driver, core, 1);
    expect(byId(cqes, core.id(9))).toEqual({ id: core.id(9), res: len, flags: 0 });
    return cqes.filter((c) => c.id !== core.id(9));
  }

  function recvSelect(core: FakeCore, slot: number, fd: number, len = 4096): number {
    const id = core.id(slot);
    core.submit({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd, len });
    return id;
  }

  test(`features say ${feature}`, () => {
    const { driver } = makeDriver({ provided: 1 }, undefined, undefined, pbufRing === undefined ? {} : { pbufRing });
    expect(driver.features).toContain(feature);
    expect(driver.features).not.toContain(feature === 'pbuf_ring' ? 'recv_select_emulated' : 'pbuf_ring');
    if (!isEpoll) expect(host.probeUring!().pbufRing).toBe(true); // 5.19+: the ring registers
  });

  test('a waiting RECV takes a buffer only when data arrives; the CQE names it', () => {
    const { core, driver, client, server } = setup();
    core.provide(0, 1, 2);
    const id = recvSelect(core, 3, server);
    expect(collect(driver, core, 1, 50)).toEqual([]); // waiting, holding nothing
    const arrived = send(core, driver, client, 'hello');
    const [cqe] = arrived.length > 0 ? arrived : collect(driver, core, 1);
    expect(cqe.id).toBe(id);
    expect(cqe.res).toBe(5);
    expect(cqe.flags & L.CQE_F_BUFFER).toBe(L.CQE_F_BUFFER);
    const index = cqe.flags >>> L.CQE_BUFFER_SHIFT;
    expect([0, 1, 2]).toContain(index);
    expect(Buffer.from(core.readBuffer(index, 5)).toString()).toBe('hello');
  });

  test('an empty pick set answers -ENOBUFS and leaves the bytes in the socket; a buffer given back takes them', () => {
    const { core, driver, client, server } = setup();
    core.provide(0);
    send(core, driver, client, 'one');
    recvSelect(core, 3, server);
    const [first] = collect(driver, core, 1);
    expect(first).toEqual({ id: core.id(3), res: 3, flags: L.CQE_F_BUFFER | (0 << L.CQE_BUFFER_SHIFT) });
    send(core, driver, client, 'two');
    recvSelect(core, 4, server);
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(4), res: -105, flags: 0 }]); // ENOBUFS
    core.provide(0);
    recvSelect(core, 5, server);
    const [again] = collect(driver, core, 1);
    expect(again).toEqual({ id: core.id(5), res: 3, flags: L.CQE_F_BUFFER });
    expect(Buffer.from(core.readBuffer(0, 3)).toString()).toBe('two');
  });

  test('every buffer in turn, then end of stream completes with 0', () => {
    const { core, driver, client, server } = setup();
    core.provide(0, 1, 2);
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      send(core, driver, client, `msg${i}`);
      const id = recvSelect(core, 3 + i, server);
      const cqe = byId(collect(driver, core, 1), id);
      expect(cqe.res).toBe(4);
      const index = cqe.flags >>> L.CQE_BUFFER_SHIFT;
      expect(Buffer.from(core.readBuffer(index, 4)).toString()).toBe(`msg${i}`);
      seen.add(index);
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
    core.provide(1);
    expect(driver.closeFd(client)).toBe(0);
    const id = recvSelect(core, 7, server);
    const eof = byId(collect(driver, core, 1), id);
    expect(eof.res).toBe(0);
  });

  test('multishot: one CQE with MORE per buffer filled, armed until the set runs dry; then -ENOBUFS ends it', () => {
    const { core, driver, client, server } = setup();
    core.provide(0, 1);
    const id = core.id(3);
    core.submit({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT | L.SQE_F_MULTISHOT, fd: server, len: 4096 });
    expect(collect(driver, core, 1, 50)).toEqual([]);
    const used: number[] = [];
    for (const text of ['first', 'second']) {
      const arrived = send(core, driver, client, text);
      const [cqe] = arrived.length > 0 ? arrived : collect(driver, core, 1);
      expect(cqe.id).toBe(id);
      expect(cqe.res).toBe(text.length);
      expect(cqe.flags & (L.CQE_F_MORE | L.CQE_F_BUFFER)).toBe(L.CQE_F_MORE | L.CQE_F_BUFFER);
      const index = cqe.flags >>> L.CQE_BUFFER_SHIFT;
      expect(Buffer.from(core.readBuffer(index, text.length)).toString()).toBe(text);
      used.push(index);
    }
    expect(used.sort()).toEqual([0, 1]);
    const arrived = send(core, driver, client, 'third');
    const [last] = arrived.length > 0 ? arrived : collect(driver, core, 1);
    expect(last).toEqual({ id, res: -105, flags: 0 }); // ENOBUFS, no MORE: over
    // The bytes are still in the socket for the next receive.
    core.provide(1);
    const again = recvSelect(core, 4, server);
    expect(byId(collect(driver, core, 1), again)).toEqual({
      id: again,
      res: 5,
      flags: L.CQE_F_BUFFER | (1 << L.CQE_BUFFER_SHIFT),
    });
  });

  test('multishot: a cancel ends it with -ECANCELED; end of stream with 0', () => {
    const { core, driver, client, server } = setup();
    core.provide(0, 1, 2);
    const multishot = { opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT | L.SQE_F_MULTISHOT, fd: server, len: 4096 };
    core.submit({ id: core.id(3), ...multishot });
    expect(collect(driver, core, 1, 50)).toEqual([]);
    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(core.id(3)) });
    const cqes = collect(driver, core, 2);
    expect(byId(cqes, core.id(3))).toEqual({ id: core.id(3), res: -125, flags: 0 }); // ECANCELED
    core.submit({ id: core.id(4), ...multishot });
    const rest = send(core, driver, client, 'bye');
    expect(driver.closeFd(client)).toBe(0);
    while (!rest.some((c) => (c.flags & L.CQE_F_MORE) === 0)) {
      const got = collect(driver, core, 1);
      expect(got.length).toBeGreaterThan(0);
      rest.push(...got);
    }
    const more = rest.filter((c) => c.flags & L.CQE_F_MORE);
    expect(more.map((c) => c.res)).toEqual([3]);
    expect(rest[rest.length - 1]).toEqual({ id: core.id(4), res: 0, flags: expect.any(Number) });
    expect(rest[rest.length - 1].flags & L.CQE_F_MORE).toBe(0);
  });
});
