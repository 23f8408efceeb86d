// node:http baseline for bench/http: `/` hello world, `/16k` 16 KiB.
//   node bench/baselines/node-http.js --port 8080
const http = require('node:http');
const { parseEchoArgs } = require('./args.js');
const { HELLO, SIXTEEN_K } = require('./http-bodies.js');

const { host, port } = parseEchoArgs(process.argv.slice(2));
const server = http.createServer((req, res) => {
  const big = req.url === '/16k';
  res.setHeader('content-type', big ? 'application/octet-stream' : 'text/plain');
  res.end(big ? SIXTEEN_K : HELLO);
});
server.listen(port, host, () => console.log(`listening on ${host}:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
