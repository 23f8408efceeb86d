// Microbenchmark: the JavaScript cost of one request through a connection
// (read, parse, handler, response, the promise hops), with the kernel taken
// out: the connection runs over an in-memory stream that hands it one
// request per read (as wrk sends them) and takes its writes at once.
//
//   npm run build:ts && node bench/http/conn-micro.js [dist-dir]
'use strict';
const path = require('node:path');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const { Connection } = require(path.join(dist, 'src/http/connection.js'));

const HELLO = Buffer.from('Hello, World!');
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n');

class MemoryStream {
  constructor(requests) {
    this.left = requests;
    this.bytesOut = 0;
  }
  async read(buf) {
    if (this.left === 0) return [0, buf];
    this.left--;
    buf.set(REQUEST);
    return [REQUEST.length, buf];
  }
  async readExact(buf) {
    return this.read(buf);
  }
  async write(buf, length) {
    const n = typeof length === 'number' ? length : buf.length;
    this.bytesOut += n;
    return [n, buf];
  }
  async writeAll(buf, length) {
    return this.write(buf, length);
  }
  async shutdown() {}
  close() {}
}

const host = {
  handler: (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(HELLO);
  },
  limits: {
    maxHeaderSize: 16384,
    maxHeaders: 100,
    maxBodySize: 1 << 20,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 0,
    sendTimeout: 0,
  },
  dateLine: 'date: Fri, 27 Nov 2026 10:00:00 GMT\r\n',
  now: 0,
  closing: false,
  error: (err) => {
    throw err;
  },
  remove: () => {},
};

async function run(requests) {
  const stream = new MemoryStream(requests);
  const t0 = process.hrtime.bigint();
  await new Connection(stream, host).run();
  const ns = Number(process.hrtime.bigint() - t0) / requests;
  return { ns, bytes: stream.bytesOut / requests };
}

(async () => {
  await run(20000); // warm-up
  const runs = [];
  for (let i = 0; i < 7; i++) runs.push((await run(100000)).ns);
  runs.sort((a, b) => a - b);
  const { bytes } = await run(1000);
  console.log(`${dist}: ${runs[3].toFixed(0)} ns per request (median of 7; ${bytes} bytes out per request)`);
})();
