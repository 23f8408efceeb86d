// Bun.listen echo server (run with bun, not node):
//   node_modules/.bin/bun bench/baselines/bun-echo.js --port 50002
// Writes each chunk straight back; whatever the socket does not take at once
// is kept and written on 'drain' so no byte is dropped.
const { parseEchoArgs } = require('./args.js');

if (typeof Bun === 'undefined') {
  process.stderr.write('bun-echo: run this file with bun\n');
  process.exit(2);
}
const { host, port } = parseEchoArgs(process.argv.slice(2));

function flush(socket) {
  const q = socket.data;
  while (q.length) {
    const chunk = q[0];
    const n = socket.write(chunk);
    if (n < chunk.length) {
      q[0] = chunk.subarray(Math.max(n, 0));
      return;
    }
    q.shift();
  }
}

const server = Bun.listen({
  hostname: host,
  port,
  socket: {
    open(socket) {
      socket.data = [];
      socket.setNoDelay?.(true);
    },
    data(socket, chunk) {
      if (socket.data.length) {
        socket.data.push(Buffer.from(chunk));
        return;
      }
      const n = socket.write(chunk);
      if (n < chunk.length) socket.data.push(Buffer.from(chunk.subarray(Math.max(n, 0))));
    },
    drain(socket) {
      flush(socket);
    },
    error() {},
  },
});
console.log(`listening on ${host}:${server.port} (bun ${Bun.version}, pid=${process.pid})`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
