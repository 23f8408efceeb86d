// Makes real every name test/docs/context.d.ts declares, before a doc example
// runs (in a child process of its own; see examples.test.ts). Peers are
// node:net sockets, so what an example does to its streams cannot hang them.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

const percore = await import(process.env.DOCTEST_PERCORE);
const { Channel, Runtime, TcpListener, TcpStream } = percore;

/** What every peer sends: a line (`\0\x06hello`) and a 2-byte length-delimited frame (`hello\n`) at once. */
const MESSAGE = Buffer.from([0x00, 0x06, ...Buffer.from('hello\n')]);

/** A loopback server-side TcpStream whose node:net peer sends MESSAGE and ends its side. */
async function acceptedFrom(listener) {
  const { port } = listener.localAddress();
  const peer = net.connect(port, '127.0.0.1', () => peer.end(MESSAGE));
  peer.on('data', () => {});
  peer.on('error', () => {});
  return listener.accept();
}

/** A node:net server that echoes what it gets and ends when its input ends. */
async function echoServer() {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return server.address().port;
}

const rt = Runtime.current();
const listener = await TcpListener.bind('127.0.0.1:0');
const stream = await acceptedFrom(listener);
const client = await acceptedFrom(listener);
const upstream = await TcpStream.connect({ host: '127.0.0.1', port: await echoServer() });
const handed = await acceptedFrom(listener);
const handoff = new Channel({ capacity: 4 });
await handoff.send(handed.detach());
const ch = new Channel({ capacity: 16 });
await ch.send({ id: 1 });
await ch.send({ id: 2 });

Object.assign(globalThis, {
  rt,
  stream,
  buf: rt.buffer(),
  listener,
  client,
  upstream,
  handoff,
  ch,
  workerData: { jobs: ch.handle },
  handle: () => {},
  serveConnection: async () => {},
  reuse: () => {},
  serveTls: async () => {},
  servePlain: async () => {},
  key: readFileSync(process.env.DOCTEST_KEY, 'utf8'),
  cert: readFileSync(process.env.DOCTEST_CERT, 'utf8'),
});
