// Simulated echo round trips per second of CPU (issue 16's speed figure): a
// percore echo server and client on two simulated hosts, `--round-trips N`
// (default 20000) messages of `--size B` bytes (default 16), one at a time.
// Run `npm run build` first: it loads dist/.
//   node bench/sim/echo.js [--round-trips N] [--size B] [--seed S]

const path = require('node:path');
const { simulate, TcpListener, TcpStream } = require(path.join(__dirname, '../../dist/src/api.js'));

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

async function main() {
  const roundTrips = arg('round-trips', 20000);
  const size = arg('size', 16);
  const seed = arg('seed', 1);
  const cpu0 = process.cpuUsage();
  const run = await simulate({ seed }, async (world) => {
    const server = world.host('server');
    const client = world.host('client');
    server.run(async () => {
      const listener = await TcpListener.bind(`${server.ip}:7000`);
      const stream = await listener.accept();
      const buf = Buffer.alloc(size);
      for (;;) {
        const [n] = await stream.read(buf);
        if (n === 0) break;
        await stream.writeAll(buf.subarray(0, n));
      }
      await stream.close();
      await listener.close();
    });
    await client.run(async () => {
      const stream = await TcpStream.connect(`${server.ip}:7000`);
      const message = Buffer.alloc(size, 7);
      const back = Buffer.alloc(size);
      for (let i = 0; i < roundTrips; i++) {
        await stream.writeAll(message);
        await stream.readExact(back);
      }
      await stream.close();
    });
  });
  const used = process.cpuUsage(cpu0);
  const seconds = (used.user + used.system) / 1e6;
  console.log(
    `${roundTrips} simulated round trips of ${size} B in ${seconds.toFixed(2)} s of CPU: ` +
      `${Math.round(roundTrips / seconds)} per CPU second (${(run.steps / roundTrips).toFixed(1)} events each, ` +
      `${(run.time / 1000).toFixed(1)} virtual s, seed ${run.seed}, trace ${run.hash})`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
