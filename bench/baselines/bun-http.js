// Bun.serve baseline for bench/http (run with bun): `/` hello world, `/16k` 16 KiB.
//   node_modules/.bin/bun bench/baselines/bun-http.js --port 8080
const { parseEchoArgs } = require('./args.js');
const { HELLO, SIXTEEN_K } = require('./http-bodies.js');

if (typeof Bun === 'undefined') {
  process.stderr.write('bun-http: run this file with bun\n');
  process.exit(2);
}
const { host, port } = parseEchoArgs(process.argv.slice(2));
const server = Bun.serve({
  hostname: host,
  port,
  fetch(req) {
    const big = new URL(req.url).pathname === '/16k';
    return new Response(big ? SIXTEEN_K : HELLO, {
      headers: { 'content-type': big ? 'application/octet-stream' : 'text/plain' },
    });
  },
});
console.log(`listening on ${host}:${server.port}`);
process.on('SIGTERM', () => {
  server.stop(true);
  process.exit(0);
});
