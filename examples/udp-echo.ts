/**
 * A UDP echo server: every datagram goes back to its sender, whole. One
 * pool buffer serves every datagram (the kernel receives into it and sends
 * from it, no copy); a datagram longer than it is reported truncated and
 * echoed as received, with a count on exit.
 *
 *   node dist/examples/udp-echo.js --port 7001 [--host 127.0.0.1]
 *
 * Prints `listening on HOST:PORT udp` once bound (port 0: a free port), and
 * stops on SIGTERM or SIGINT, printing how many datagrams it echoed.
 */
import { parseArgs } from 'node:util';
import { type PercoreError, Runtime, UdpSocket } from '../src/index';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const rt = Runtime.current();
  const socket = await UdpSocket.bind({ host: values.host, port: Number(values.port) });
  const { address, port } = socket.localAddress();
  console.log(`listening on ${address}:${port} udp`);
  const stop = () => void socket.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const buf = rt.buffer();
  let echoed = 0;
  let truncated = 0;
  try {
    for (;;) {
      const got = await socket.recvFrom(buf);
      if (got.truncated) truncated++;
      await socket.sendTo(buf, got.address, { length: got.n });
      echoed++;
    }
  } catch (err) {
    if ((err as PercoreError).code !== 'ERR_SOCKET_CLOSED') throw err;
  } finally {
    rt.release(buf);
  }
  console.log(`echoed ${echoed} datagrams (${truncated} truncated)`);
  rt.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
