#!/usr/bin/env node

// percore's echo benchmark runner. See bench/README.md.
//
//   npm run bench                      quick run: the cells issue 3's bar names (< 3 min)
//   npm run bench -- --full            the whole matrix, 3 repeats (~9 min on a quiet machine)
//   node bench/run.js --servers c-uring,node --cells 16x64,churn --repeat 3
//
// Each (cell, repeat, server) gets a fresh server process on a fresh port,
// pinned to CPU 0; the load generator runs pinned to CPU 1. Server CPU is
// read from /proc/<pid>/stat at the start and end of the load generator's
// measured window; idle memory from /proc/<pid>/status before the
// connections open and while they are held.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { groupedBarChart } = require('./charts.js');
const { BAR_SERVER, EPOLL_BAR_SERVERS, EPOLL_LINES, barLines, evaluateBar } = require('./bar.js');
const { accepts, bindable, bunPath } = require('./common/procs.js');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build', 'bench');
const LOADGEN = path.join(BUILD, 'loadgen');

// ---------- servers ----------
// One entry per server; adding a variant is one line. cmd(port, bufferSize)
// gives its argv; missing() says why it cannot run (its rows then say
// 'error'); cpus is where it is pinned (the load generator gets CPU 1).

const PERCORE_ECHO = path.join(ROOT, 'dist', 'examples', 'echo.js');
const percoreMissing = () => (fs.existsSync(PERCORE_ECHO) ? null : 'dist/examples/echo.js missing (run npm run build)');
const percore =
  (...extra) =>
  (p, b) => [process.execPath, PERCORE_ECHO, '--port', p, '--buffer-size', b, ...extra];
const baseline = (file) => path.join(__dirname, 'baselines', file);

const SERVERS = [
  {
    name: 'c-uring',
    aliases: ['uring'],
    cmd: (p, b) => [path.join(BUILD, 'uring_echo'), '--port', p, '--buffer-size', b],
  },
  {
    name: 'c-epoll',
    aliases: ['epoll'],
    cmd: (p, b) => [path.join(BUILD, 'epoll_echo'), '--port', p, '--buffer-size', b],
  },
  { name: 'node:net', aliases: ['node', 'net'], cmd: (p) => [process.execPath, baseline('node-echo.js'), '--port', p] },
  {
    name: 'bun',
    aliases: [],
    cmd: (p) => [bunPath(), baseline('bun-echo.js'), '--port', p],
    skip: () => (bunPath() ? null : bunMissing),
  },
  // The echo example defaults to one thread per core: the one-core rows ask for one.
  { name: 'percore', aliases: [], cmd: percore('--threads', '1'), missing: percoreMissing },
  { name: 'percore-epoll', aliases: [], cmd: percore('--threads', '1', '--driver', 'epoll'), missing: percoreMissing },
  // The echo example with --io recv: buffers picked when data arrives (TcpStream.recv), so idle connections hold none.
  { name: 'percore-recv', aliases: [], cmd: percore('--threads', '1', '--io', 'recv'), missing: percoreMissing },
  // The echo example with --io copy: copy(stream, stream), the relay the runtime runs with no JavaScript per message.
  { name: 'percore-copy', aliases: [], cmd: percore('--threads', '1', '--io', 'copy'), missing: percoreMissing },
  {
    name: 'percore-copy-epoll',
    aliases: [],
    cmd: percore('--threads', '1', '--io', 'copy', '--driver', 'epoll'),
    missing: percoreMissing,
  },
  // Two threads cannot share one pinned core fairly, so this one may use both
  // cores (sharing CPU 1 with the load generator): read its CPU per round
  // trip; its rt/s and latency are not comparable with the one-core rows.
  { name: 'percore-2t', aliases: [], cmd: percore('--threads', '2'), missing: percoreMissing, cpus: '0,1' },
  // Two runtimes time-sharing the server's one core: the client keeps its own
  // core, so the CPU per round trip shows what splitting the connections over
  // two runtimes costs (nothing is shared; each turn batches fewer ops), free
  // of the contention that blurs percore-2t on a 2-core machine.
  { name: 'percore-2t-1core', aliases: [], cmd: percore('--threads', '2'), missing: percoreMissing },
];

// ---------- Bun, installed for benchmarks only ----------
// Bun is not a dependency of percore. If it is missing, `npm install
// --no-save bun@1` fetches it without touching package.json or the lock
// file. npm may skip the `bun` package's install script; the binary then
// still arrives through its optional dependency @oven/bun-linux-x64.

let bunMissing = 'bun not installed';

function ensureBun(f) {
  if (bunPath()) return;
  if (!f.install) {
    bunMissing = 'bun not installed (--no-install given)';
    return;
  }
  console.log('bun: not installed; running npm install --no-save bun@1 (benchmarks only)');
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', 'bun@1'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (!bunPath())
    bunMissing = `npm install --no-save bun@1 failed (${r.error ? r.error.message : `exit ${r.status}`}: ${tail(r.stderr || '')})`;
}

const USAGE = `usage: node bench/run.js [options]
  --full               connections {1,16,128,1024} x size {64,1024,16384}, churn, idle memory; repeat 3
  --servers LIST       comma list of: ${SERVERS.map((s) => s.name).join(',')} (default: all)
  --cells LIST         comma list of CxS (e.g. 16x64,128x16384), churn[:CxS], idle[:N] (default: the matrix)
  --repeat R           runs per (cell, server); medians are reported (default 1 quick, 3 full)
  --warmup SEC         warm-up per run (default 0.5)
  --duration SEC       measured window per run (default 2)
  --buffer-size BYTES  per-connection buffer for the C servers and percore (default 16384)
  --depth K            messages in flight per connection (default 1)
  --churn-connections N  concurrent connects in the churn cell (default 16)
  --idle-connections N connections held open in the idle memory cell (default 10000)
  --retry-noisy N      rerun a run up to N times while other CPU% >= ${10} (default 2)
  --bar-server LIST    comma list of servers issue 3's bar is checked for (default ${BAR_SERVER})
  --no-install         do not npm install bun when it is missing
  --no-write           do not write bench/results/<date>.md and its charts
  --compare DIR        add servers 'percore-before' and 'percore-before-epoll': the
                       echo example of another build's dist/ (e.g. a worktree of an
                       older commit, built), for before/after ratios in one run
  --help               this text`;

// ---------- flags ----------

function parseFlags(argv) {
  const f = {
    full: false,
    servers: null,
    cells: null,
    repeat: null,
    warmup: 0.5,
    duration: 2,
    bufferSize: 16384,
    depth: 1,
    churnConnections: 16,
    idleConnections: 10000,
    retryNoisy: 2,
    barServer: BAR_SERVER,
    install: true,
    write: true,
    compare: null,
  };
  const num = (name, v, min, max, int = true) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
      die(`--${name} must be a number from ${min} to ${max}, got '${v}'`, 2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : arg;
    const value = () => (eq >= 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (name) {
      case 'help':
        console.log(USAGE);
        process.exit(0);
        break;
      case 'full':
        f.full = true;
        break;
      case 'servers':
        f.servers = String(value() || '')
          .split(',')
          .filter(Boolean);
        break;
      case 'cells':
        f.cells = String(value() || '')
          .split(',')
          .filter(Boolean);
        break;
      case 'repeat':
        f.repeat = num(name, value(), 1, 100);
        break;
      case 'warmup':
        f.warmup = num(name, value(), 0, 600, false);
        break;
      case 'duration':
        f.duration = num(name, value(), 0.1, 600, false);
        break;
      case 'buffer-size':
        f.bufferSize = num(name, value(), 64, 16 << 20);
        break;
      case 'depth':
        f.depth = num(name, value(), 1, 4096);
        break;
      case 'churn-connections':
        f.churnConnections = num(name, value(), 1, 4096);
        break;
      case 'idle-connections':
        f.idleConnections = num(name, value(), 1, 60000);
        break;
      case 'retry-noisy':
        f.retryNoisy = num(name, value(), 0, 10);
        break;
      case 'bar-server':
        f.barServer = String(value() || '');
        break;
      case 'no-install':
        f.install = false;
        break;
      case 'no-write':
        f.write = false;
        break;
      case 'compare':
        f.compare = path.resolve(String(value() || ''));
        break;
      default:
        die(`unknown argument '${arg}'\n${USAGE}`, 2);
    }
  }
  if (f.repeat === null) f.repeat = f.full ? 3 : 1;
  return f;
}

function die(message, code = 1) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

/** 'percore-before' and 'percore-before-epoll': the one-thread echo of another
 * build (--compare DIR, a dist/ folder), for before/after ratios in one run. */
function beforeServers(dist) {
  const echo = path.join(dist, 'examples', 'echo.js');
  const missing = () => (fs.existsSync(echo) ? null : `${echo} missing (--compare wants a built dist/ folder)`);
  const before =
    (...extra) =>
    (p, b) => [process.execPath, echo, '--port', p, '--buffer-size', b, '--threads', '1', ...extra];
  return [
    { name: 'percore-before', aliases: [], cmd: before(), missing },
    { name: 'percore-before-epoll', aliases: [], cmd: before('--driver', 'epoll'), missing },
  ];
}

function selectServers(list, compare) {
  if (compare) SERVERS.push(...beforeServers(compare));
  if (!list) return SERVERS;
  return list.map((n) => {
    const s = SERVERS.find((x) => x.name === n || x.aliases.includes(n));
    if (!s) die(`unknown server '${n}'; known: ${SERVERS.map((x) => x.name).join(', ')}`, 2);
    return s;
  });
}

// ---------- cells ----------
// steady: closed-loop echo; churn: connect + one echo + close; idle: hold
// connections open to read the server's memory per connection.

function matrix(f) {
  const cells = [];
  if (f.full) {
    for (const c of [1, 16, 128, 1024])
      for (const s of [64, 1024, 16384]) cells.push({ kind: 'steady', connections: c, size: s });
  } else {
    // The quick run is the cells the bar names.
    for (const [c, s] of [
      [16, 64],
      [128, 64],
      [128, 1024],
      [128, 16384],
    ])
      cells.push({ kind: 'steady', connections: c, size: s });
  }
  cells.push({ kind: 'churn', connections: f.churnConnections, size: 64 });
  cells.push({ kind: 'idle', connections: f.idleConnections, size: 64 });
  return cells;
}

function parseCells(list, f) {
  return list.map((spec) => {
    const churn = /^churn(?::(\d+)x(\d+))?$/.exec(spec);
    if (churn)
      return {
        kind: 'churn',
        connections: churn[1] ? Number(churn[1]) : f.churnConnections,
        size: churn[2] ? Number(churn[2]) : 64,
      };
    const idle = /^idle(?::(\d+))?$/.exec(spec);
    if (idle) return { kind: 'idle', connections: idle[1] ? Number(idle[1]) : f.idleConnections, size: 64 };
    const m = /^(\d+)x(\d+)$/.exec(spec);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1)
      die(`--cells: '${spec}' is not CONNECTIONSxSIZE (e.g. 16x64), churn[:CxS] or idle[:N]`, 2);
    return { kind: 'steady', connections: Number(m[1]), size: Number(m[2]) };
  });
}

/** The short name the bar and the charts use: 128x64, churn, idle:10000. */
function cellKey(cell) {
  if (cell.kind === 'churn') return 'churn';
  if (cell.kind === 'idle') return `idle:${cell.connections}`;
  return `${cell.connections}x${cell.size}`;
}

function sizeLabel(b) {
  return b >= 1024 && b % 1024 === 0 ? `${b / 1024} KiB` : `${b} B`;
}

function cellTitle(cell, f) {
  if (cell.kind === 'churn')
    return `churn: connect + ${cell.size} B echo + close, ${cell.connections} at a time (rt = one connection)`;
  if (cell.kind === 'idle')
    return `idle memory: ${cell.connections} connections open, one ${cell.size} B echo each, then idle`;
  const depth = f.depth > 1 ? `, depth ${f.depth}` : '';
  return `${cell.connections} connections x ${sizeLabel(cell.size)}${depth}`;
}

// ---------- machine ----------

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (/^model name\s*:\s*(.*)$/m.exec(cpuinfo) || [])[1] || os.cpus()[0]?.model || 'unknown';
  const commit = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']);
  return {
    cpu: model,
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    cc: (sh('cc', ['--version']) || 'unknown').split('\n')[0],
    bun: bunPath() ? sh(bunPath(), ['--version']) : null,
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
  };
}

// ---------- processes ----------

const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;

function cpuTicks(pid) {
  // /proc/<pid>/stat: fields after the ')' of comm; utime and stime are fields 14 and 15.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Busy ticks of the whole machine (all CPUs, everything but idle and iowait). */
function machineBusyTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
}

function pinned(cpu, argv, taskset) {
  return taskset ? ['taskset', ['-c', String(cpu), ...argv.map(String)]] : [argv[0], argv.slice(1).map(String)];
}

// Servers get the hard limit on open files as their soft limit (the idle
// cell holds 10,000 connections). `exec` keeps the pid the runner samples.
function withFdLimit(argv) {
  return ['/bin/sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv];
}

function lineReader(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nextPort = 41000 + (process.pid % 200) * 50;
async function freshPort() {
  for (let tries = 0; tries < 200; tries++) {
    const port = nextPort++;
    if (nextPort > 60000) nextPort = 41000;
    if (!(await accepts(port)) && (await bindable(port))) return port;
  }
  throw new Error('no free port found');
}

async function waitClosed(port, ms = 10000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await accepts(port))) return true;
    await sleep(50);
  }
  return false;
}

function startServer(server, port, f, taskset) {
  return new Promise((resolve) => {
    const [cmd, args] = pinned(server.cpus || 0, withFdLimit(server.cmd(port, f.bufferSize)), taskset);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let settled = false;
    const finish = (v) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      }
    };
    const timer = setTimeout(
      () => finish({ child, error: `no 'listening on' line within 15 s${stderr ? `: ${tail(stderr)}` : ''}` }),
      15000,
    );
    lineReader(child.stdout, (line) => {
      const m = /listening on (\S+)(.*)$/.exec(line);
      if (m) finish({ child, banner: line.trim() });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 8192) stderr = stderr.slice(-8192);
    });
    child.on('error', (err) => finish({ child, error: `cannot start: ${err.message}` }));
    child.on('exit', (code, sig) =>
      finish({
        child,
        error: `exited (${sig || `code ${code}`}) before listening${stderr ? `: ${tail(stderr)}` : ''}`,
      }),
    );
    child.stderrText = () => stderr;
  });
}

/** The line of a process's stderr that says what went wrong: the first
 * that looks like an error message ('Error: ...', 'echo: ...'), else the
 * last line. */
function tail(text) {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const key = lines.find((l) => /^\w*Error\b|^[\w-]+: /.test(l)) || lines[lines.length - 1] || '';
  return key.slice(0, 300);
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

function residentBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * Runs the load generator with argv (pinned to CPU 1). onMarker(line) sees
 * its 'loadgen: ...' marker lines as they come. Resolves { out } with its
 * JSON report, or { error }.
 */
function runLoadgen(argv, taskset, timeoutS, onMarker) {
  return new Promise((resolve) => {
    const [cmd, args] = pinned(1, [LOADGEN, ...argv, '--json', '--markers'], taskset);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    lineReader(child.stderr, (line) => {
      if (/^loadgen: (measure start|measure end|holding|released)$/.test(line)) onMarker(line.slice(9));
      else stderr += `${line}\n`;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', (err) => {
      clearTimeout(killer);
      resolve({ error: `loadgen: ${err.message}` });
    });
    child.on('close', (code, sig) => {
      clearTimeout(killer);
      let out = null;
      try {
        out = JSON.parse(stdout.trim().split('\n').pop());
      } catch {
        /* below */
      }
      if (code !== 0 || !out) {
        const why = out?.error || tail(stderr) || (sig ? `killed by ${sig}` : `exit code ${code}`);
        resolve({ error: `loadgen exit ${code ?? sig}: ${why}` });
        return;
      }
      resolve({ out });
    });
  });
}

/** A steady or churn run: server CPU over the load generator's measured window. */
async function measureLoad(port, cell, f, taskset, serverPid) {
  const argv = [
    '--port',
    port,
    '--connections',
    cell.connections,
    '--size',
    cell.size,
    '--warmup',
    f.warmup,
    '--duration',
    f.duration,
  ];
  if (cell.kind === 'churn') argv.push('--churn');
  else if (f.depth > 1) argv.push('--depth', f.depth);
  let t0 = null;
  let t1 = null;
  let m0 = 0;
  let m1 = 0;
  const sample = () => {
    try {
      return cpuTicks(serverPid);
    } catch {
      return null;
    }
  };
  const r = await runLoadgen(argv, taskset, f.warmup + f.duration + 30, (what) => {
    if (what === 'measure start') {
      t0 = sample();
      m0 = machineBusyTicks();
    } else if (what === 'measure end') {
      t1 = sample();
      m1 = machineBusyTicks();
    }
  });
  if (r.error) return r;
  if (t0 === null || t1 === null) return { error: 'server exited during the measured window' };
  const o = r.out;
  const serverCpuS = (t1 - t0) / CLK_TCK;
  return {
    rt: o.roundtrips,
    rps: o.roundtrips_per_s,
    mbps: o.mb_per_s,
    p50: o.latency_us.p50,
    p99: o.latency_us.p99,
    p999: o.latency_us.p999,
    clientPct: o.client_cpu_pct,
    clientUsPerRt: o.client_cpu_us_per_rt,
    engine: o.engine,
    serverUsPerRt: (serverCpuS * 1e6) / o.roundtrips,
    serverPct: (100 * serverCpuS) / o.duration_s,
    // CPU used by anything but the server and the load generator (other
    // processes, ksoftirqd, steal), as % of one core.
    otherPct: Math.max(0, (100 * ((m1 - m0) / CLK_TCK - serverCpuS - o.client_cpu_s)) / o.duration_s),
  };
}

const IDLE_SETTLE_MS = 1000; // after the last echo, before reading RSS: let lazy frees and GC happen
/** An idle run: the server's RSS before any connection and while all are held. */
async function measureIdle(port, cell, _f, taskset, serverPid) {
  await sleep(300);
  const before = residentBytes(serverPid);
  let held = null;
  let sampling = null;
  const r = await runLoadgen(
    [
      '--port',
      port,
      '--connections',
      cell.connections,
      '--size',
      cell.size,
      '--hold',
      '--duration',
      (IDLE_SETTLE_MS + 1000) / 1000,
    ],
    taskset,
    60,
    (what) => {
      if (what === 'holding')
        sampling = sleep(IDLE_SETTLE_MS).then(() => {
          try {
            held = residentBytes(serverPid);
          } catch {
            /* exited */
          }
        });
    },
  );
  await sampling;
  if (r.error) return r;
  if (held === null) return { error: 'server exited while the connections were held' };
  return {
    rssBefore: before,
    rssHeld: held,
    perConn: (held - before) / cell.connections,
    setupS: r.out.setup_s,
    otherPct: 0,
  };
}

// ---------- one run ----------

async function runOne(server, cell, f, taskset) {
  const missing = server.missing?.();
  if (missing) return { error: missing };
  let port;
  try {
    port = await freshPort();
  } catch (e) {
    return { error: e.message };
  }
  const started = await startServer(server, port, f, taskset);
  const { child } = started;
  try {
    if (started.error) return { error: started.error };
    if (!(await accepts(port))) return { error: `printed '${started.banner}' but port ${port} does not accept` };
    const measure = cell.kind === 'idle' ? measureIdle : measureLoad;
    const r = await measure(port, cell, f, taskset, child.pid);
    if (r.error) {
      const serr = child.stderrText();
      return { error: r.error + (serr ? ` (server stderr: ${tail(serr)})` : ''), banner: started.banner };
    }
    return { banner: started.banner, ...r };
  } finally {
    await stopServer(child);
    if (!(await waitClosed(port)))
      process.stderr.write(`bench: warning: port ${port} still accepts 10 s after ${server.name} exited\n`);
  }
}

// ---------- reporting ----------

const OTHER_WARN = 10; // other CPU% from which a run counts as noisy ('?')
const LOAD_METRICS = [
  'serverUsPerRt',
  'rps',
  'mbps',
  'p50',
  'p99',
  'p999',
  'clientPct',
  'clientUsPerRt',
  'serverPct',
  'otherPct',
];
const IDLE_METRICS = ['rssBefore', 'rssHeld', 'perConn', 'setupS'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(runs, cell) {
  const ok = runs.filter((r) => !r.error);
  if (!ok.length) return { error: runs[0]?.error || 'no run', runs: runs.length };
  const s = { ok: ok.length, runs: runs.length, banner: ok[0].banner, engine: ok[0].engine };
  for (const k of cell.kind === 'idle' ? IDLE_METRICS : LOAD_METRICS) s[k] = median(ok.map((r) => r[k]));
  if (ok.length < runs.length)
    s.note = `${runs.length - ok.length} of ${runs.length} runs failed: ${runs.find((r) => r.error).error}`;
  return s;
}

const fmt = (x, d = 0) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const fmtLat = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)}`);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
const usable = (s) => s && !s.error && !s.skipped;

const LOAD_HEADER = [
  'server',
  'srv CPU µs/rt',
  '× c-uring',
  '× node:net',
  'rt/s',
  'rt/s × node:net',
  'MB/s',
  'p50 µs',
  'p99 µs',
  'p99 × node:net',
  'p99.9 µs',
  'srv CPU%',
  'client µs/rt',
  'client CPU%',
  'other CPU%',
];
const IDLE_HEADER = [
  'server',
  'RSS before MiB',
  'RSS held MiB',
  'KiB per connection',
  '× c-uring',
  '× node:net',
  'connect + echo s',
];

function tableRows(results, serverNames, cell) {
  const floor = usable(results['c-uring']) ? results['c-uring'] : null;
  const node = usable(results['node:net']) ? results['node:net'] : null;
  const header = cell.kind === 'idle' ? IDLE_HEADER : LOAD_HEADER;
  const rows = [];
  const notes = [];
  for (const name of serverNames) {
    const s = results[name];
    if (!s) continue;
    if (s.skipped) {
      notes.push(`${name}: skipped (${s.skipped})`);
      continue;
    }
    if (s.error) {
      rows.push([name, 'error', ...header.slice(2).map(() => '')]);
      notes.push(`${name}: ${s.error}`);
      continue;
    }
    if (cell.kind === 'idle') {
      rows.push([
        name,
        fmt(s.rssBefore / 2 ** 20, 1),
        fmt(s.rssHeld / 2 ** 20, 1),
        fmt(s.perConn / 1024, 2),
        ratio(s.perConn, floor?.perConn),
        ratio(s.perConn, node?.perConn),
        fmt(s.setupS, 2),
      ]);
    } else {
      rows.push([
        name,
        fmt(s.serverUsPerRt, 2),
        ratio(s.serverUsPerRt, floor?.serverUsPerRt),
        ratio(s.serverUsPerRt, node?.serverUsPerRt),
        fmt(s.rps),
        ratio(s.rps, node?.rps),
        fmt(s.mbps, s.mbps < 100 ? 1 : 0),
        fmtLat(s.p50),
        fmtLat(s.p99),
        ratio(s.p99, node?.p99),
        fmtLat(s.p999),
        fmt(s.serverPct),
        fmt(s.clientUsPerRt, 2),
        fmt(s.clientPct) + (s.clientPct >= 90 ? ' !' : ''),
        fmt(s.otherPct) + (s.otherPct >= OTHER_WARN ? ' ?' : ''),
      ]);
    }
    if (s.note) notes.push(`${name}: ${s.note}`);
  }
  return { header, rows, notes };
}

function markdownTable(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function textTable(header, rows) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  '))
    .join('\n');
}

function stamp(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

// The three figures charted per run: groups = steady cells, bars = servers.
const CHARTS = [
  {
    id: 'cpu',
    metric: 'serverUsPerRt',
    title: 'Server CPU per round trip (lower is better)',
    unit: 'µs of server CPU per round trip',
  },
  { id: 'rps', metric: 'rps', title: 'Round trips per second (higher is better)', unit: 'round trips / s' },
  { id: 'p99', metric: 'p99', title: 'p99 latency (lower is better)', unit: 'µs', log: true },
];

function writeCharts(dir, base, sections, serverNames, subtitle) {
  const steady = sections.filter((s) => s.cell.kind === 'steady');
  if (!steady.length) return [];
  fs.mkdirSync(dir, { recursive: true });
  const groups = (metric) =>
    steady.map((s) => ({
      label: `${s.cell.connections} conn\n${sizeLabel(s.cell.size)}`,
      values: Object.fromEntries(serverNames.map((n) => [n, usable(s.results[n]) ? s.results[n][metric] : undefined])),
    }));
  return CHARTS.map((c) => {
    const file = `${base}-${c.id}.svg`;
    const note =
      c.id === 'rps'
        ? 'At 64 B the load generator itself is near one full core against the C servers: compare server CPU there.'
        : '';
    fs.writeFileSync(
      path.join(dir, file),
      groupedBarChart(groups(c.metric), serverNames, { title: c.title, subtitle, unit: c.unit, log: c.log, note }),
    );
    return { file, title: c.title };
  });
}

// ---------- main ----------

async function main() {
  const f = parseFlags(process.argv.slice(2));
  if (!fs.existsSync(LOADGEN)) die(`${path.relative(ROOT, LOADGEN)} missing: run npm run build:bench first`);
  const taskset = !!which('taskset');
  const cells = f.cells ? parseCells(f.cells, f) : matrix(f);
  const servers = selectServers(f.servers, f.compare);
  if (servers.some((s) => s.name === 'bun')) ensureBun(f);
  const machine = machineInfo();
  const started = new Date();
  const command = `node bench/run.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

  const pinning = taskset
    ? 'servers pinned to CPU 0 (taskset -c 0; percore-2t: CPUs 0,1), load generator to CPU 1 (taskset -c 1)'
    : 'taskset not found: servers and load generator run UNPINNED (numbers are less comparable)';
  console.log(
    `percore echo benchmark: ${cells.length} cells x ${servers.length} servers x ${f.repeat} repeat(s), ${f.warmup} s warm-up + ${f.duration} s measured each`,
  );
  console.log(`${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}; ${pinning}`);
  if (machine.cores < 2) console.log('warning: fewer than 2 cores: server and load generator share a core');

  const skipped = {};
  for (const s of servers) {
    const why = s.skip?.();
    if (why) {
      skipped[s.name] = why;
      console.log(`${s.name}: skipped (${why})`);
    }
  }
  const active = servers.filter((s) => !skipped[s.name]);
  const names = servers.map((s) => s.name);

  const sections = [];
  let retries = 0;
  for (const cell of cells) {
    const runs = Object.fromEntries(active.map((s) => [s.name, []]));
    // Repeats are interleaved across servers so slow drifts in the machine's
    // load hit every server alike.
    for (let rep = 0; rep < f.repeat; rep++) {
      for (const s of active) {
        let r = await runOne(s, cell, f, taskset);
        for (let t = 0; t < f.retryNoisy && !r.error && r.otherPct >= OTHER_WARN; t++) {
          console.log(`  (other processes used ${fmt(r.otherPct)}% of a core: running ${s.name} again)`);
          retries++;
          r = await runOne(s, cell, f, taskset);
        }
        runs[s.name].push(r);
        const tag = `[${cellTitle(cell, f)}${f.repeat > 1 ? `, run ${rep + 1}/${f.repeat}` : ''}] ${s.name}`;
        if (r.error) console.log(`  ${tag}: ERROR ${r.error}`);
        else if (cell.kind === 'idle') console.log(`  ${tag}: ${fmt(r.perConn / 1024, 2)} KiB RSS per idle connection`);
        else
          console.log(
            `  ${tag}: ${fmt(r.serverUsPerRt, 2)} µs/rt server CPU, ${fmt(r.rps)} rt/s, client ${fmt(r.clientUsPerRt, 2)} µs/rt (${fmt(r.clientPct)}%)`,
          );
      }
    }
    const results = {};
    for (const s of servers)
      results[s.name] = skipped[s.name] ? { skipped: skipped[s.name] } : summarize(runs[s.name], cell);
    const { header, rows, notes } = tableRows(results, names, cell);
    const banners = active.map((s) => results[s.name].banner).filter(Boolean);
    sections.push({ cell, key: cellKey(cell), title: cellTitle(cell, f), header, rows, notes, banners, results });
    console.log(
      `\n### ${cellTitle(cell, f)}${f.repeat > 1 ? ` (median of ${f.repeat})` : ''}\n${textTable(header, rows)}`,
    );
    for (const n of notes) console.log(`  note: ${n}`);
    console.log('');
  }

  // Issue 3's bar for each server asked for, issue 4's for the epoll rows run.
  const bars = [];
  for (const server of f.barServer.split(',')) {
    if (!names.includes(server)) continue;
    bars.push({
      title: `The bar (issue 3) for ${server}`,
      header: ['bar line (issue 3)', 'cell', server, 'baseline', 'ratio', 'needed', 'result'],
      rows: evaluateBar(barLines(sections), sections, server),
    });
  }
  for (const server of EPOLL_BAR_SERVERS) {
    if (!names.includes(server) || !names.includes('c-epoll')) continue;
    bars.push({
      title: `The epoll bar (issue 4) for ${server}`,
      header: ['bar line (issue 4)', 'cell', server, 'baseline', 'ratio', 'needed', 'result'],
      rows: evaluateBar(EPOLL_LINES, sections, server),
    });
  }
  for (const b of bars) console.log(`### ${b.title}\n${textTable(b.header, b.rows)}\n`);

  const elapsed = ((Date.now() - started.getTime()) / 1000).toFixed(0);
  const anySat = sections.some((s) => s.rows.some((r) => String(r[13]).endsWith('!')));
  const anyNoisy = sections.some((s) => s.rows.some((r) => String(r[14]).endsWith('?')));
  const engine = sections.flatMap((s) => Object.values(s.results)).find((r) => r.engine)?.engine || 'n/a';
  const base = stamp(started);
  const md = [];
  md.push(`# Echo benchmark, ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC`, '');
  md.push(`Command: \`${command}\` (${elapsed} s)`, '');
  md.push('| | |', '|:--|:--|');
  md.push(`| CPU | ${machine.cpu}, ${machine.cores} cores |`);
  md.push(`| kernel | ${machine.kernel} |`);
  md.push(`| node | ${machine.node} |`);
  md.push(`| C compiler | ${machine.cc} |`);
  md.push(`| bun | ${machine.bun || `not run (${bunMissing})`} |`);
  md.push(`| percore commit | ${machine.commit} |`);
  md.push(`| pinning | ${pinning} |`);
  md.push(`| load generator | build/bench/loadgen, ${engine} engine for steady cells (epoll for churn and idle) |`);
  md.push(
    `| per run | fresh server process and port; ${f.warmup} s warm-up, ${f.duration} s measured; ${f.repeat} run(s) per cell and server, medians reported; a run with other CPU% >= ${OTHER_WARN} is rerun up to ${f.retryNoisy} times (${retries} reruns this time) |`,
  );
  md.push(
    `| buffers | C servers and percore: --buffer-size ${f.bufferSize}; depth ${f.depth} message(s) in flight per connection |`,
  );
  md.push('');
  md.push(
    'Every ratio compares figures measured in this same run. Columns are explained in bench/README.md. "srv CPU µs/rt" is the server process\'s utime+stime over the measured window divided by round trips; lower is better and it is the figure to compare while the client is saturated (client CPU% marked "!" at 90% or more: rt/s is then client-bound). "other CPU%" is CPU used on the machine by anything else during the window, % of one core; "?" from ' +
      `${OTHER_WARN}%: that row's rt/s and latency are suspect.`,
  );
  md.push('');
  const charts = f.write
    ? writeCharts(
        path.join(__dirname, 'results'),
        base,
        sections,
        names,
        `${machine.cpu}, ${machine.cores} cores; ${started.toISOString().slice(0, 10)}; medians of ${f.repeat}`,
      )
    : [];
  for (const c of charts) md.push(`![${c.title}](${c.file})`, '');
  for (const b of bars) md.push(`## ${b.title}`, '', markdownTable(b.header, b.rows), '');
  for (const s of sections) {
    md.push(`## ${s.title}`, '', markdownTable(s.header, s.rows), '');
    if (s.cell.kind === 'idle')
      md.push(
        `- RSS from /proc/<pid>/status (VmRSS) before any connection and ${IDLE_SETTLE_MS / 1000} s after all ${s.cell.connections} had echoed; per connection = difference / ${s.cell.connections}. Kernel socket memory is not in RSS. percore's echo holds one pool buffer (--buffer-size) per connection; only the pages it touched count.`,
      );
    for (const n of s.notes) md.push(`- ${n}`);
    md.push('');
  }
  md.push('## Servers as they reported themselves', '');
  const seen = new Set();
  for (const s of sections)
    for (const b of s.banners) {
      const key = b.replace(/127\.0\.0\.1:\d+/, 'HOST:PORT').replace(/pid=\d+/, 'pid=…');
      if (!seen.has(key)) {
        seen.add(key);
        md.push(`- \`${key}\``);
      }
    }
  md.push('');
  if (anySat) console.log('"!" = client at 90%+ of its core: rt/s is client-bound there; compare server CPU µs/rt.');
  if (anyNoisy)
    console.log(
      `"?" = other processes used ${OTHER_WARN}%+ of a core during that run: rt/s and latency are suspect; rerun with --repeat or --cells.`,
    );

  if (f.write) {
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${base}.md`);
    fs.writeFileSync(file, md.join('\n'));
    console.log(`wrote ${path.relative(ROOT, file)} and ${charts.length} charts (${elapsed} s)`);
  }
}

main().catch((err) => die(err.stack || String(err)));
