// The package smoke (scripts/test-package.js): what a user's first program
// does, through the installed package, given percore as smoke.cjs
// (`require`) or smoke.mjs (`import { … }`) loaded it: an echo round trip
// over loopback, a timer, a channel between two threads. Prints one JSON line
// with what ran where (Node, CPU, the driver and why it was chosen) and exits
// 0, or throws.

const assert = require('node:assert/strict');

async function echo({ TcpListener, TcpStream }) {
  const listener = await TcpListener.bind('127.0.0.1:0');
  const served = (async () => {
    const stream = await listener.accept();
    const buf = new Uint8Array(64);
    const [n] = await stream.read(buf);
    await stream.writeAll(buf.subarray(0, n));
    await stream.close();
  })();
  const client = await TcpStream.connect(listener.localAddress());
  await client.writeAll(Buffer.from('ping'));
  const [n, back] = await client.read(new Uint8Array(64));
  await client.close();
  await served;
  await listener.close();
  return Buffer.from(back.subarray(0, n)).toString();
}

async function channel({ Channel, start }) {
  const ch = new Channel({ capacity: 4 });
  const results = await start({ threads: 2, data: { ch: ch.handle } }, async (ctx) => {
    const ch = ctx.percore.Channel.from(ctx.data.ch);
    if (ctx.threadIndex === 1) {
      await ch.send({ n: 42, driver: ctx.percore.Runtime.current().driver });
      ch.close();
      return 'sent';
    }
    return ch.recv();
  });
  return results;
}

module.exports = async function smoke(percore) {
  const rt = percore.Runtime.current();
  assert.equal(await echo(percore), 'ping');
  let fired = false;
  await percore.sleep(5).then(() => {
    fired = true;
  });
  assert.equal(fired, true);
  const [received, sent] = await channel(percore);
  assert.equal(sent, 'sent');
  assert.equal(received.n, 42);
  const report = { node: process.version, arch: process.arch, driver: rt.driver, reason: rt.driverReason };
  console.log(JSON.stringify({ ...report, echo: 'ping', timer: fired, channel: received }));
  rt.close();
};
