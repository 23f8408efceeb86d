// HTTP/1.1 benchmark (issue 13): wrk and `h2load --h1 -m 16` against
// percore (examples/http.ts), percore running a Hono app through the fetch
// adapter, nginx (the floor), Bun.serve and node:http.
//
//   npm run bench:http                     # 3 rounds (~12 min)
//   node bench/http/run.js --smoke         # 1 round, short cells: checks the runner
//   node bench/http/run.js --rounds 5 --servers percore,nginx --no-write
//
// Each round starts every server in turn (the order rotates round by round),
// pinned to CPU 0, warms it up, then runs every cell with the client pinned
// to CPU 1. Cells: hello world (13 bytes, `/`) and 16 KiB (`/16k`), at 16 and
// 128 connections, with wrk (one request in flight per connection) and with
// h2load --h1 -m 16 (16 pipelined). Per cell: requests/s, server CPU per
// request (utime+stime from /proc/<pid>/stat over the cell ÷ requests), p99
// latency (wrk only: h2load prints no percentiles), the client's CPU per
// request. Medians over the rounds. Writes bench/results/http-STAMP.md with
// -cpu.svg and -rps.svg.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { groupedBarChart } = require('../charts.js');
const {
  ROOT,
  CLK_TCK,
  bunPath,
  cpuTicks,
  freshPort,
  median,
  runClient,
  startServer,
  stopServer,
} = require('../common/procs.js');

const RESULTS = path.join(ROOT, 'bench', 'results');
const LISTENING = /^listening on/;

/** nginx with one process, logs off, keep-alive unbounded: `return 200` for `/`, a cached static file for `/16k`. */
function nginxConfig(dir, port) {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(dir, '16k'), Buffer.alloc(16384, 'x'));
  const conf = `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; open_file_cache max=16; open_file_cache_valid 3600s;
  keepalive_requests 100000000; keepalive_timeout 60s;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    location = / { default_type text/plain; return 200 'Hello, World!'; }
    location = /16k { default_type application/octet-stream; alias ${dir}/16k; }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return path.join(dir, 'nginx.conf');
}

const SERVERS = [
  {
    name: 'percore',
    argv: (port) => ['node', 'dist/examples/http.js', '--port', port, '--threads', '1'],
    ready: LISTENING,
  },
  {
    name: 'percore-hono',
    argv: (port) => ['node', 'bench/baselines/percore-hono.js', '--port', port],
    ready: LISTENING,
  },
  {
    name: 'nginx',
    argv: (port, dir) => ['nginx', '-p', dir, '-e', 'stderr', '-c', nginxConfig(dir, port)],
    ready: null,
  },
  {
    name: 'bun',
    argv: (port) => [bunPath(), 'bench/baselines/bun-http.js', '--port', port],
    ready: LISTENING,
    missing: () => (bunPath() ? null : 'bun not installed (npm install --no-save bun@1)'),
  },
  { name: 'node:http', argv: (port) => ['node', 'bench/baselines/node-http.js', '--port', port], ready: LISTENING },
];

const CELLS = [];
for (const tool of ['wrk', 'h2load'])
  for (const body of ['hello', '16k']) for (const conns of [16, 128]) CELLS.push({ tool, body, conns });
const cellName = (c) => `${c.tool} ${c.body} c${c.conns}`;

const USAGE = `usage: node bench/http/run.js [options]
  --rounds N       rounds, each running every server once (default 3)
  --duration S     seconds per wrk cell (default 5)
  --requests N     requests per h2load cell (default 400000)
  --servers LIST   comma list of: ${SERVERS.map((s) => s.name).join(',')} (default: all)
  --smoke          1 round, 1 s wrk cells, 20000 h2load requests: checks the runner, measures nothing
  --no-write       print only, write no files`;

function parseFlags(argv) {
  const f = { rounds: 3, duration: 5, requests: 400000, servers: null, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') f.rounds = Number(argv[++i]);
    else if (a === '--duration') f.duration = Number(argv[++i]);
    else if (a === '--requests') f.requests = Number(argv[++i]);
    else if (a === '--servers') f.servers = argv[++i].split(',');
    else if (a === '--smoke') Object.assign(f, { rounds: 1, duration: 1, requests: 20000, write: false });
    else if (a === '--no-write') f.write = false;
    else if (a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`http bench: unknown argument '${a}'\n${USAGE}`);
      process.exit(2);
    }
  }
  return f;
}

const UNIT = { us: 1e-3, ms: 1, s: 1e3 };

/** wrk: requests, req/s, p99 (ms); fails on errors or non-2xx answers. */
function parseWrk(out) {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out) || /Socket errors: (.*)/.exec(out);
  if (!(requests > 0) || bad) throw new Error(`wrk: ${bad ? bad[0] : 'no result'}\n${out.slice(-400)}`);
  return { requests, rps, p99: p99 ? Number(p99[1]) * UNIT[p99[2]] : Number.NaN };
}

/** h2load: requests done, req/s; fails unless every request succeeded. */
function parseH2load(out) {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded/.exec(out);
  if (!m || m[1] !== m[3]) throw new Error(`h2load: not every request succeeded\n${out.slice(-400)}`);
  return { requests: Number(m[3]), rps, p99: Number.NaN };
}

async function runCell(cell, port, f) {
  const url = `http://127.0.0.1:${port}${cell.body === '16k' ? '/16k' : '/'}`;
  if (cell.tool === 'wrk') {
    const { out, clientTicks } = await runClient([
      'wrk',
      '-t1',
      `-c${cell.conns}`,
      `-d${f.duration}s`,
      '--latency',
      url,
    ]);
    return { ...parseWrk(out), clientTicks };
  }
  const n = Math.max(f.requests, cell.conns * 16);
  const args = ['h2load', '--h1', '-m', '16', '-c', String(cell.conns), '-t', '1', '-n', String(n), url];
  const { out, clientTicks } = await runClient(args);
  return { ...parseH2load(out), clientTicks };
}

async function measureServer(server, f, results, round) {
  const port = await freshPort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-http-bench-'));
  const child = await startServer({
    name: server.name,
    argv: server.argv(String(port), dir),
    ready: server.ready,
    port,
  });
  try {
    for (const body of ['hello', '16k']) await runCell({ tool: 'wrk', body, conns: 16 }, port, { ...f, duration: 1 });
    for (let i = 0; i < CELLS.length; i++) {
      const before = cpuTicks(child.pid);
      const r = await runCell(CELLS[i], port, f);
      const cpuUs = (((cpuTicks(child.pid) - before) / CLK_TCK) * 1e6) / r.requests;
      const clientUs = ((r.clientTicks / CLK_TCK) * 1e6) / r.requests;
      results[server.name][i].push({ rps: r.rps, cpuUs, p99: r.p99, clientUs });
      const p99 = Number.isFinite(r.p99) ? `p99 ${r.p99.toFixed(2)} ms` : '';
      console.log(
        `round ${round + 1} ${server.name.padEnd(13)} ${cellName(CELLS[i]).padEnd(18)} ${r.rps.toFixed(0).padStart(8)} req/s  ${cpuUs.toFixed(2)} µs CPU/req  client ${clientUs.toFixed(2)} µs/req  ${p99}`,
      );
    }
  } finally {
    await stopServer(child, port);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The bar of issue 13, cell by cell, for the servers that ran. */
function barLines(med, servers) {
  const has = (n) => servers.some((s) => s.name === n);
  const lines = [
    '| cell | CPU/req ÷ nginx (≤ 1.3) | req/s ÷ bun (≥ 1) | req/s ÷ node:http (≥ 2 hello, ≥ 1.4 16k) | p99 ≤ node:http | verdict |',
    '|:--|--:|--:|--:|--:|:--|',
  ];
  let all = true;
  for (let i = 0; i < CELLS.length; i++) {
    const ratio = (k, other) => (has(other) ? med('percore', i, k) / med(other, i, k) : Number.NaN);
    const cpu = ratio('cpuUs', 'nginx');
    const bun = ratio('rps', 'bun');
    const node = ratio('rps', 'node:http');
    const p99 = has('node:http') ? med('percore', i, 'p99') <= med('node:http', i, 'p99') : Number.NaN;
    const nodeBar = CELLS[i].body === 'hello' ? 2 : 1.4;
    const checks = [cpu <= 1.3, bun >= 1, node >= nodeBar, CELLS[i].tool === 'wrk' ? p99 : true];
    const known = [cpu, bun, node].every(Number.isFinite);
    const pass = known && checks.every(Boolean);
    all &&= pass;
    const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
    const p = CELLS[i].tool !== 'wrk' ? 'n/a' : p99 === true ? 'yes' : p99 === false ? 'no' : 'n/a';
    lines.push(
      `| ${cellName(CELLS[i])} | ${x(cpu)} | ${x(bun)} | ${x(node)} | ${p} | ${known ? (pass ? 'pass' : 'FAIL') : 'incomplete'} |`,
    );
  }
  return { lines, all };
}

function writeResults(servers, med, text) {
  const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  const base = path.join(RESULTS, `http-${stamp}`);
  fs.writeFileSync(`${base}.md`, text);
  const groups = (k) =>
    CELLS.map((c, i) => ({
      label: cellName(c),
      values: Object.fromEntries(servers.map((s) => [s.name, med(s.name, i, k)])),
    }));
  const names = servers.map((s) => s.name);
  const sub = 'one server core, the client on the other';
  fs.writeFileSync(
    `${base}-cpu.svg`,
    groupedBarChart(groups('cpuUs'), names, {
      title: 'HTTP/1.1: server CPU per request',
      subtitle: `${sub}; lower is better`,
      unit: 'µs CPU / request',
    }),
  );
  fs.writeFileSync(
    `${base}-rps.svg`,
    groupedBarChart(groups('rps'), names, {
      title: 'HTTP/1.1: requests per second',
      subtitle: `${sub}; higher is better`,
      unit: 'requests/s',
    }),
  );
  console.log(`wrote ${path.relative(ROOT, base)}.md, -cpu.svg, -rps.svg`);
}

async function main() {
  const f = parseFlags(process.argv.slice(2));
  for (const tool of ['wrk', 'h2load', 'nginx', 'taskset']) {
    if (spawnSync('which', [tool]).status !== 0) {
      console.error(`http bench: ${tool} not found (apt-get install wrk nghttp2-client nginx-light util-linux)`);
      process.exit(1);
    }
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'examples', 'http.js'))) {
    console.error('http bench: dist/examples/http.js missing: run npm run build');
    process.exit(1);
  }
  const servers = SERVERS.filter((s) => (f.servers ? f.servers.includes(s.name) : true)).filter((s) => {
    const why = s.missing?.();
    if (why) console.log(`skipping ${s.name}: ${why}`);
    return !why;
  });
  const results = Object.fromEntries(servers.map((s) => [s.name, CELLS.map(() => [])]));
  for (let round = 0; round < f.rounds; round++) {
    for (let k = 0; k < servers.length; k++)
      await measureServer(servers[(k + round) % servers.length], f, results, round);
  }
  const med = (name, i, k) => (results[name] ? median(results[name][i].map((r) => r[k])) : Number.NaN);
  const rows = [
    '| cell | server | req/s | server CPU µs/req | p99 ms | client CPU µs/req |',
    '|:--|:--|--:|--:|--:|--:|',
  ];
  for (let i = 0; i < CELLS.length; i++) {
    for (const s of servers) {
      const p99 = med(s.name, i, 'p99');
      rows.push(
        `| ${cellName(CELLS[i])} | ${s.name} | ${med(s.name, i, 'rps').toFixed(0)} | ${med(s.name, i, 'cpuUs').toFixed(2)} | ${Number.isFinite(p99) ? p99.toFixed(2) : '-'} | ${med(s.name, i, 'clientUs').toFixed(2)} |`,
      );
    }
  }
  const bar = barLines(med, servers);
  const command = `node bench/http/run.js ${process.argv.slice(2).join(' ')}`.trim();
  const nginxVersion = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim();
  const text = `${[
    `# HTTP/1.1 benchmark (${new Date().toISOString()})`,
    '',
    `Machine: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} CPUs, ${os.release()}, node ${process.version}, ${nginxVersion}, ${spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split(' [')[0] || 'wrk'}.`,
    `Command: \`${command}\`; ${f.rounds} rounds, servers alternating; server on CPU 0, client on CPU 1; medians.`,
    '',
    '## The bar (issue 13), percore (native handler)',
    '',
    ...bar.lines,
    '',
    `Overall: ${bar.all ? 'pass' : 'FAIL'}.`,
    '',
    '## Medians',
    '',
    ...rows,
  ].join('\n')}\n`;
  console.log(`\n${text}`);
  if (f.write) writeResults(servers, med, text);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
