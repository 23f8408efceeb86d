// RESP benchmark: redis-benchmark against redis-server (the floor), the
// percore RESP example (examples/resp.ts, BufReader/BufWriter) and the same
// server on node:net (bench/baselines/node-resp.js).
//
//   npm run bench:resp                       # 3 rounds (~3 min)
//   node bench/resp/run.js --rounds 5 --no-write
//
// Each round starts every server in turn (the order rotates round by round),
// pinned to CPU 0, and runs `redis-benchmark -c 50 -P {1,16} -t {get,set}`
// pinned to CPU 1 against it. Server CPU per request is the server's
// utime+stime (/proc/<pid>/stat) over the cell divided by the requests;
// req/s is redis-benchmark's. Medians over the rounds. Writes
// bench/results/resp-YYYY-MM-DD-HHMM.md and -cpu.svg / -rps.svg next to it.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { groupedBarChart } = require('../charts.js');
const {
  ROOT,
  CLK_TCK,
  cpuTicks,
  freshPort,
  median,
  runClient,
  startServer: startProcess,
  stopServer,
} = require('../common/procs.js');

const RESULTS = path.join(ROOT, 'bench', 'results');

const SERVERS = [
  {
    name: 'redis-server',
    cmd: (port) => [
      'redis-server',
      '--port',
      port,
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--io-threads',
      '1',
      '--protected-mode',
      'no',
    ],
    ready: /Ready to accept connections/,
  },
  { name: 'node:net', cmd: (port) => ['node', 'bench/baselines/node-resp.js', '--port', port], ready: /^listening on/ },
  {
    name: 'percore',
    cmd: (port) => ['node', 'dist/examples/resp.js', '--port', port, '--threads', '1'],
    ready: /^listening on/,
  },
  {
    name: 'percore-epoll',
    cmd: (port) => ['node', 'dist/examples/resp.js', '--port', port, '--threads', '1', '--driver', 'epoll'],
    ready: /^listening on/,
  },
];

const CELLS = [
  { pipeline: 1, test: 'get', n: 100000 },
  { pipeline: 1, test: 'set', n: 100000 },
  { pipeline: 16, test: 'get', n: 600000 },
  { pipeline: 16, test: 'set', n: 600000 },
];

const USAGE = `usage: node bench/resp/run.js [--rounds N] [--clients C] [--scale X] [--servers LIST]
                              [--variant NAME=FILE]... [--pipelines LIST] [--no-write]
  --rounds N            rounds, each running every server once (default 3)
  --clients C           redis-benchmark -c (default 50)
  --scale X             multiply every cell's request count (default 1)
  --servers LIST        only these servers (comma-separated names; default all)
  --variant NAME=FILE   also run FILE (a built resp server, e.g. another checkout's
                        dist/examples/resp.js) as server NAME: an A/B test in one run
  --pipelines LIST      only these pipeline depths (default 1,16)
  --no-write            print only, write no files`;

function parseFlags(argv) {
  const f = { rounds: 3, clients: 50, scale: 1, write: true, servers: undefined, variants: [], pipelines: [1, 16] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') f.rounds = Number(argv[++i]);
    else if (a === '--clients') f.clients = Number(argv[++i]);
    else if (a === '--scale') f.scale = Number(argv[++i]);
    else if (a === '--no-write') f.write = false;
    else if (a === '--servers') f.servers = argv[++i].split(',');
    else if (a === '--pipelines') f.pipelines = argv[++i].split(',').map(Number);
    else if (a === '--variant') {
      const [name, file] = argv[++i].split('=');
      f.variants.push({ name, file: path.resolve(file) });
    } else if (a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`resp bench: unknown argument '${a}'\n${USAGE}`);
      process.exit(2);
    }
  }
  return f;
}

function startServer(server, port) {
  return startProcess({ name: server.name, argv: server.cmd(String(port)), ready: server.ready, port });
}

async function runBenchmark(port, cell, clients) {
  const args = ['-p', String(port), '-c', String(clients), '-P', String(cell.pipeline)];
  args.push('-n', String(cell.n), '-t', cell.test, '-q');
  const { out, clientTicks } = await runClient(['redis-benchmark', ...args]);
  const last = out
    .split(/[\r\n]/)
    .filter((l) => /requests per second/.test(l))
    .pop();
  const m = last && /([\d.]+) requests per second/.exec(last);
  if (!m) throw new Error(`redis-benchmark failed: ${out.slice(-300)}`);
  return { rps: Number(m[1]), clientUs: ((clientTicks / CLK_TCK) * 1e6) / cell.n };
}

const cellName = (c) => `-P ${c.pipeline} ${c.test.toUpperCase()}`;

async function main() {
  const f = parseFlags(process.argv.slice(2));
  for (const tool of ['redis-server', 'redis-benchmark', 'taskset']) {
    if (spawnSync('which', [tool]).status !== 0) {
      console.error(`resp bench: ${tool} not found (apt-get install redis-server redis-tools util-linux)`);
      process.exit(1);
    }
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'examples', 'resp.js'))) {
    console.error('resp bench: dist/examples/resp.js missing: run npm run build');
    process.exit(1);
  }
  const cells = CELLS.filter((c) => f.pipelines.includes(c.pipeline)).map((c) => ({
    ...c,
    n: Math.round(c.n * f.scale),
  }));
  const servers = [
    ...SERVERS.filter((s) => f.servers === undefined || f.servers.includes(s.name)),
    ...f.variants.map(({ name, file }) => ({
      name,
      cmd: (port) => ['node', file, '--port', port, '--threads', '1'],
      ready: /^listening on/,
    })),
  ];
  // results[server][cell] = [{ rps, cpuUs }]
  const results = Object.fromEntries(servers.map((s) => [s.name, cells.map(() => [])]));
  for (let round = 0; round < f.rounds; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const server of order) {
      const port = await freshPort();
      const child = await startServer(server, port);
      try {
        await runBenchmark(port, { pipeline: 16, test: 'set', n: 20000 }, f.clients); // warm-up (JIT, keys)
        for (let i = 0; i < cells.length; i++) {
          const before = cpuTicks(child.pid);
          const { rps, clientUs } = await runBenchmark(port, cells[i], f.clients);
          const ticks = cpuTicks(child.pid) - before;
          const cpuUs = ((ticks / CLK_TCK) * 1e6) / cells[i].n;
          results[server.name][i].push({ rps, cpuUs, clientUs });
          console.log(
            `round ${round + 1} ${server.name.padEnd(12)} ${cellName(cells[i]).padEnd(10)} ${rps.toFixed(0).padStart(8)} req/s  ${cpuUs.toFixed(2)} µs CPU/req  client ${clientUs.toFixed(2)} µs/req`,
          );
        }
      } finally {
        await stopServer(child, port);
      }
    }
  }
  const med = (name, i, k) => median(results[name][i].map((r) => r[k]));
  const lines = [];
  lines.push(
    `| cell | server | req/s | server CPU µs/req | server CPU busy | client CPU µs/req | client CPU busy |`,
    `|:--|:--|--:|--:|--:|--:|--:|`,
  );
  for (let i = 0; i < cells.length; i++) {
    for (const s of servers) {
      lines.push(
        `| ${cellName(cells[i])} | ${s.name} | ${med(s.name, i, 'rps').toFixed(0)} | ${med(s.name, i, 'cpuUs').toFixed(2)} | ${((med(s.name, i, 'rps') * med(s.name, i, 'cpuUs')) / 1e4).toFixed(0)}% | ${med(s.name, i, 'clientUs').toFixed(2)} | ${((med(s.name, i, 'rps') * med(s.name, i, 'clientUs')) / 1e4).toFixed(0)}% |`,
      );
    }
  }
  const bar = [];
  bar.push(
    `| cell | CPU/req percore ÷ redis-server | bar | req/s percore ÷ node:net | bar | verdict |`,
    `|:--|--:|--:|--:|--:|:--|`,
  );
  let allPass = true;
  const barServers = ['percore', 'redis-server', 'node:net'];
  for (let i = 0; i < cells.length && barServers.every((n) => n in results); i++) {
    const cpuRatio = med('percore', i, 'cpuUs') / med('redis-server', i, 'cpuUs');
    const rpsRatio = med('percore', i, 'rps') / med('node:net', i, 'rps');
    const cpuBar = cells[i].pipeline === 1 ? 1.3 : 2.0;
    const rpsBar = cells[i].pipeline === 1 ? 1.25 : 1.8;
    const pass = cpuRatio <= cpuBar && rpsRatio >= rpsBar;
    allPass &&= pass;
    bar.push(
      `| ${cellName(cells[i])} | ${cpuRatio.toFixed(2)}x | ≤ ${cpuBar}x | ${rpsRatio.toFixed(2)}x | ≥ ${rpsBar}x | ${pass ? 'pass' : 'FAIL'} |`,
    );
  }
  const command = `node bench/resp/run.js ${process.argv.slice(2).join(' ')}`.trim();
  const header = [
    `# RESP benchmark (${new Date().toISOString()})`,
    '',
    `Machine: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} CPUs, ${os.release()}, node ${process.version}, ${execFileSync('redis-server', ['--version']).toString().trim().split(' ').slice(0, 3).join(' ')}.`,
    `Command: \`${command}\`; ${f.rounds} rounds, servers alternating; server on CPU 0, redis-benchmark (-c ${f.clients}) on CPU 1; medians.`,
    '',
    '## The bar (issue 12)',
    '',
    ...bar,
    '',
    barServers.every((n) => n in results)
      ? `Overall: ${allPass ? 'pass' : 'FAIL'}.`
      : 'Overall: not judged (a server of the bar was left out).',
    '',
    '## Medians',
    '',
    ...lines,
  ];
  const text = `${header.join('\n')}\n`;
  console.log(`\n${text}`);
  if (f.write) {
    const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
    const base = path.join(RESULTS, `resp-${stamp}`);
    fs.writeFileSync(`${base}.md`, text);
    const groups = (k) =>
      cells.map((c, i) => ({
        label: cellName(c),
        values: Object.fromEntries(servers.map((s) => [s.name, med(s.name, i, k)])),
      }));
    const names = servers.map((s) => s.name);
    fs.writeFileSync(
      `${base}-cpu.svg`,
      groupedBarChart(groups('cpuUs'), names, {
        title: 'RESP: server CPU per request',
        subtitle: `redis-benchmark -c ${f.clients}, one server core; lower is better`,
        unit: 'µs CPU / request',
      }),
    );
    fs.writeFileSync(
      `${base}-rps.svg`,
      groupedBarChart(groups('rps'), names, {
        title: 'RESP: requests per second',
        subtitle: `redis-benchmark -c ${f.clients}, one server core, client on the other; higher is better`,
        unit: 'requests/s',
      }),
    );
    console.log(`wrote ${path.relative(ROOT, base)}.md, -cpu.svg, -rps.svg`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
