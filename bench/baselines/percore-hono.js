// percore's fetch adapter running a Hono app, for bench/http: `/` hello
// world, `/16k` 16 KiB, one thread.
//   node bench/baselines/percore-hono.js --port 8080
const { Hono } = require('hono');
const { Runtime, fetchHandler, serve } = require('../../dist/src/index');
const { parseEchoArgs } = require('./args.js');
const { HELLO, SIXTEEN_K } = require('./http-bodies.js');

const { host, port } = parseEchoArgs(process.argv.slice(2));
const app = new Hono();
app.get('/', (c) => c.body(HELLO, 200, { 'content-type': 'text/plain' }));
app.get('/16k', (c) => c.body(SIXTEEN_K, 200, { 'content-type': 'application/octet-stream' }));

Runtime.setCurrent(new Runtime());
serve({ host, port }, fetchHandler(app)).then((server) => {
  console.log(`listening on ${host}:${server.address().port}`);
  process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
});
