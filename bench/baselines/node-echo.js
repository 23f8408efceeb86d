// node:net echo server, the baseline percore is compared with.
//   node bench/baselines/node-echo.js --port 50002
// Each 'data' chunk is written straight back (no pipe, no backpressure
// handling beyond what net.Socket buffers). TCP_NODELAY on, like the C servers.
const net = require('node:net');
const { parseEchoArgs } = require('./args.js');

const { host, port } = parseEchoArgs(process.argv.slice(2));
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => socket.destroy());
});
server.on('error', (err) => {
  process.stderr.write(`node-echo: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host, port, backlog: 4096 }, () => {
  console.log(`listening on ${host}:${server.address().port} (node:net ${process.version}, pid=${process.pid})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
