// Microbenchmark: the request-head parser in TypeScript (src/http/parser.ts,
// scanning a Uint8Array view of Wasm memory, as it scans a pool buffer)
// against the same scanning loops in AssemblyScript (parse-scan.as.ts) over
// the same bytes in the same memory. Both parse in place; nothing is copied.
//
//   npm run build:ts && node bench/http/parse-micro.js

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { HttpParser } = require('../../dist/src/http/parser');

const root = path.resolve(__dirname, '../..');
const wasmPath = path.join(os.tmpdir(), `percore-parse-scan-${process.pid}.wasm`);
execFileSync(
  path.join(root, 'node_modules/.bin/asc'),
  [path.join(__dirname, 'parse-scan.as.ts'), '-O3', '--runtime', 'stub', '--use', 'abort=', '-o', wasmPath],
  { stdio: 'inherit', cwd: __dirname }, // no asconfig.json there: the core's options stay out
);
const mod = new WebAssembly.Module(fs.readFileSync(wasmPath));
fs.rmSync(wasmPath);
const { exports: as } = new WebAssembly.Instance(mod, {});
as.init();
const mem = new Uint8Array(as.memory.buffer);

const requests = {
  'wrk hello (2 headers)': 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n',
  'browser-like (10 headers)':
    'GET /api/items?id=42&sort=asc HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n' +
    'Upgrade-Insecure-Requests: 1\r\nCache-Control: max-age=0\r\nContent-Length: 0\r\n\r\n',
};

const base = 32768; // where the request bytes sit in the module's memory (its one page)
const out = 16384;
const parser = new HttpParser();
for (const [name, text] of Object.entries(requests)) {
  const bytes = Buffer.from(text, 'latin1');
  mem.set(bytes, base);
  const end = base + bytes.length;
  const tsEnd = parser.parse(mem, base, end);
  const asEnd = as.parse(base, end, out);
  if (tsEnd !== end || asEnd !== end) throw new Error(`parse mismatch: ts ${tsEnd}, as ${asEnd}, want ${end}`);
  const n = 2_000_000;
  const time = (fn) => {
    for (let i = 0; i < n / 10; i++) fn(); // warm up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const runs = { ts: [], as: [] };
  for (let r = 0; r < 5; r++) {
    runs.ts.push(time(() => parser.parse(mem, base, end)));
    runs.as.push(time(() => as.parse(base, end, out)));
  }
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  console.log(
    `${name}, ${bytes.length} bytes: TypeScript ${median(runs.ts).toFixed(0)} ns, AssemblyScript (scan only) ${median(runs.as).toFixed(0)} ns per head`,
  );
}
