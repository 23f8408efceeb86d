// Cross-thread wake cost: a ping-pong between two io_uring threads over two
// channels of capacity 1, so every message parks its receiver and costs one
// wake each way. Run with MSG_RING (the default between io_uring runtimes)
// and with every wake forced onto the eventfd path (the module wake(), as a
// thread without a runtime sends). Prints µs per round trip, wall and
// process CPU (both threads), after a warm-up.
//   node scripts/measure-wakes.js [roundTrips=20000] [repeats=3] [msg_ring|eventfd]
// Needs a build (npm run build). Quick and small: not one of bench/'s runs.

const path = require('node:path');
const root = path.join(__dirname, '..');
const { start, Channel } = require(path.join(root, 'dist', 'src', 'index.js'));

const n = Number(process.argv[2] ?? 20000);
const repeats = Number(process.argv[3] ?? 3);
const only = process.argv[4];
const addon = path.join(root, 'build', 'host', 'Release', 'percore.node');

async function run(forceEventfd) {
  const ping = new Channel({ capacity: 1, slotSize: 64 });
  const pong = new Channel({ capacity: 1, slotSize: 64 });
  const data = { ping: ping.handle, pong: pong.handle, n, forceEventfd, addon };
  const results = await start({ threads: 2, driver: 'uring', data }, async (ctx) => {
    const { Channel: C, Runtime: R } = ctx.percore;
    if (ctx.data.forceEventfd) {
      const host = require(ctx.data.addon);
      R.prototype.wake = (token) => host.wake(token);
    }
    const ping = C.from(ctx.data.ping);
    const pong = C.from(ctx.data.pong);
    const round = async (i) => {
      if (ctx.threadIndex === 0) {
        await ping.send(i);
        await pong.recv();
      } else await pong.send(await ping.recv());
    };
    const warm = 1000;
    for (let i = 0; i < warm; i++) await round(i);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ctx.data.n; i++) await round(i);
    const wall = Number(process.hrtime.bigint() - t0) / 1e3;
    const cpu = process.cpuUsage(cpu0);
    const c = ctx.runtime.counters();
    return { wall, cpu: cpu.user + cpu.system, msgRing: c.wakesMsgRing, eventfd: c.wakesEventfd };
  });
  const [a, b] = results;
  return { wall: a.wall / n, cpu: a.cpu / n, msgRing: a.msgRing + b.msgRing, eventfd: a.eventfd + b.eventfd };
}

(async () => {
  for (let r = 0; r < repeats; r++) {
    for (const forceEventfd of [false, true]) {
      if (only !== undefined && only !== (forceEventfd ? 'eventfd' : 'msg_ring')) continue;
      const m = await run(forceEventfd);
      console.log(
        `${forceEventfd ? 'eventfd ' : 'msg_ring'}  ${m.wall.toFixed(2)} µs/round trip wall, ${m.cpu.toFixed(2)} µs CPU` +
          `  (wakes: ${m.msgRing} MSG_RING, ${m.eventfd} eventfd)`,
      );
    }
  }
})();
