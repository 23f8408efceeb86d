#!/usr/bin/env node
'use strict';
// percore's echo benchmark runner. See bench/README.md.
//
//   npm run bench                      quick matrix (< 3 min)
//   node bench/run.js --full           full matrix with churn, 3 repeats
//   node bench/run.js --servers c-uring,node --cells 16x64 --repeat 3
//
// Each (cell, repeat, server) gets a fresh server process on a fresh port,
// pinned to CPU 0; the load generator runs pinned to CPU 1. Server CPU is
// read from /proc/<pid>/stat at the start and end of the load generator's
// measured window.

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build', 'bench');
const LOADGEN = path.join(BUILD, 'loadgen');

const USAGE = `usage: node bench/run.js [options]
  --full               connections {1,16,128,1024} x size {64,1024,16384} plus churn; repeat 3
  --servers LIST       comma list of: ${'c-uring,c-epoll,node,bun,percore,percore-epoll'} (default: all)
  --cells LIST         comma list of CxS (e.g. 16x64,128x16384) and/or 'churn' (default: the matrix)
  --repeat R           runs per (cell, server); medians are reported (default 1 quick, 3 full)
  --warmup SEC         warm-up per run (default 1)
  --duration SEC       measured window per run (default 3)
  --buffer-size BYTES  per-connection buffer for the C servers and percore (default 16384)
  --depth K            messages in flight per connection (default 1)
  --churn-connections N  concurrent connects in the churn cell (default 16)
  --no-write           do not write bench/results/<date>.md
  --help               this text`;

// ---------- flags ----------

function parseFlags(argv) {
  const f = {
    full: false, servers: null, cells: null, repeat: null, warmup: 1, duration: 3,
    bufferSize: 16384, depth: 1, churnConnections: 16, write: true,
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
      case 'help': console.log(USAGE); process.exit(0); break;
      case 'full': f.full = true; break;
      case 'servers': f.servers = String(value() || '').split(',').filter(Boolean); break;
      case 'cells': f.cells = String(value() || '').split(',').filter(Boolean); break;
      case 'repeat': f.repeat = num(name, value(), 1, 100); break;
      case 'warmup': f.warmup = num(name, value(), 0, 600, false); break;
      case 'duration': f.duration = num(name, value(), 0.1, 600, false); break;
      case 'buffer-size': f.bufferSize = num(name, value(), 64, 16 << 20); break;
      case 'depth': f.depth = num(name, value(), 1, 4096); break;
      case 'churn-connections': f.churnConnections = num(name, value(), 1, 4096); break;
      case 'no-write': f.write = false; break;
      default: die(`unknown argument '${arg}'\n${USAGE}`, 2);
    }
  }
  if (f.repeat === null) f.repeat = f.full ? 3 : 1;
  return f;
}

function die(message, code = 1) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

// ---------- servers ----------

const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun');
const PERCORE_ECHO = path.join(ROOT, 'dist', 'examples', 'echo.js');

const SERVERS = [
  { name: 'c-uring', aliases: ['uring'], cmd: (p, b) => [path.join(BUILD, 'uring_echo'), '--port', p, '--buffer-size', b] },
  { name: 'c-epoll', aliases: ['epoll'], cmd: (p, b) => [path.join(BUILD, 'epoll_echo'), '--port', p, '--buffer-size', b] },
  { name: 'node:net', aliases: ['node', 'net'], cmd: (p) => [process.execPath, path.join(__dirname, 'baselines', 'node-echo.js'), '--port', p] },
  {
    name: 'bun', aliases: [], cmd: (p) => [BUN, path.join(__dirname, 'baselines', 'bun-echo.js'), '--port', p],
    skip: () => (fs.existsSync(BUN) ? null : 'node_modules/.bin/bun not installed'),
  },
  {
    name: 'percore', aliases: [], cmd: (p, b) => [process.execPath, PERCORE_ECHO, '--port', p, '--buffer-size', b],
    missing: () => (fs.existsSync(PERCORE_ECHO) ? null : 'dist/examples/echo.js missing (run npm run build)'),
  },
  {
    // The same example on the readiness driver (the io_uring fallback).
    name: 'percore-epoll', aliases: [], cmd: (p, b) => [process.execPath, PERCORE_ECHO, '--port', p, '--buffer-size', b, '--driver', 'epoll'],
    missing: () => (fs.existsSync(PERCORE_ECHO) ? null : 'dist/examples/echo.js missing (run npm run build)'),
  },
];

function selectServers(list) {
  if (!list) return SERVERS;
  return list.map((n) => {
    const s = SERVERS.find((x) => x.name === n || x.aliases.includes(n));
    if (!s) die(`unknown server '${n}'; known: ${SERVERS.map((x) => x.name).join(', ')}`, 2);
    return s;
  });
}

// ---------- cells ----------

function matrix(f) {
  const conns = f.full ? [1, 16, 128, 1024] : [16, 128];
  const sizes = f.full ? [64, 1024, 16384] : [64, 16384];
  const cells = [];
  for (const c of conns) for (const s of sizes) cells.push({ kind: 'steady', connections: c, size: s });
  if (f.full) cells.push({ kind: 'churn', connections: f.churnConnections, size: 64 });
  return cells;
}

function parseCells(list, f) {
  return list.map((spec) => {
    const churn = /^churn(?::(\d+)x(\d+))?$/.exec(spec);
    if (churn) return { kind: 'churn', connections: churn[1] ? Number(churn[1]) : f.churnConnections, size: churn[2] ? Number(churn[2]) : 64 };
    const m = /^(\d+)x(\d+)$/.exec(spec);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) die(`--cells: '${spec}' is not CONNECTIONSxSIZE (e.g. 16x64) or churn[:CxS]`, 2);
    return { kind: 'steady', connections: Number(m[1]), size: Number(m[2]) };
  });
}

function cellTitle(cell, f) {
  if (cell.kind === 'churn') return `churn: connect + ${cell.size} B echo + close, ${cell.connections} at a time (rt = one connection)`;
  const depth = f.depth > 1 ? `, depth ${f.depth}` : '';
  return `${cell.connections} connections x ${cell.size} B${depth}`;
}

// ---------- machine ----------

function sh(cmd, args) {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; }
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir || '.', cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
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
    bun: fs.existsSync(BUN) ? sh(BUN, ['--version']) : null,
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

function lineReader(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves true if something accepts on 127.0.0.1:port. */
function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v) => { s.destroy(); resolve(v); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Resolves true if a plain (no SO_REUSEPORT) listener can bind the port. */
function bindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

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
    const [cmd, args] = pinned(0, server.cmd(port, f.bufferSize), taskset);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let settled = false;
    const finish = (v) => { if (!settled) { settled = true; clearTimeout(timer); resolve(v); } };
    const timer = setTimeout(() => finish({ child, error: `no 'listening on' line within 15 s${stderr ? `: ${tail(stderr)}` : ''}` }), 15000);
    lineReader(child.stdout, (line) => {
      const m = /listening on (\S+)(.*)$/.exec(line);
      if (m) finish({ child, banner: line.trim() });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 8192) stderr = stderr.slice(-8192); });
    child.on('error', (err) => finish({ child, error: `cannot start: ${err.message}` }));
    child.on('exit', (code, sig) => finish({ child, error: `exited (${sig || `code ${code}`}) before listening${stderr ? `: ${tail(stderr)}` : ''}` }));
    child.stderrText = () => stderr;
  });
}

function tail(text) {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' / ').slice(0, 300);
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

function runLoadgen(port, cell, f, taskset, serverPid) {
  return new Promise((resolve) => {
    const argv = [LOADGEN, '--port', port, '--connections', cell.connections, '--size', cell.size,
      '--warmup', f.warmup, '--duration', f.duration, '--json', '--markers'];
    if (cell.kind === 'churn') argv.push('--churn');
    else if (f.depth > 1) argv.push('--depth', f.depth);
    const [cmd, args] = pinned(1, argv, taskset);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let t0 = null;
    let t1 = null;
    let m0 = 0;
    let m1 = 0;
    const sample = () => { try { return cpuTicks(serverPid); } catch { return null; } };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    lineReader(child.stderr, (line) => {
      if (line === 'loadgen: measure start') { t0 = sample(); m0 = machineBusyTicks(); }
      else if (line === 'loadgen: measure end') { t1 = sample(); m1 = machineBusyTicks(); }
      else stderr += `${line}\n`;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), (f.warmup + f.duration + 30) * 1000);
    child.on('error', (err) => { clearTimeout(killer); resolve({ error: `loadgen: ${err.message}` }); });
    child.on('close', (code, sig) => {
      clearTimeout(killer);
      let out = null;
      try { out = JSON.parse(stdout.trim().split('\n').pop()); } catch { /* below */ }
      if (code !== 0 || !out) {
        const why = (out && out.error) || tail(stderr) || (sig ? `killed by ${sig}` : `exit code ${code}`);
        resolve({ error: `loadgen exit ${code ?? sig}: ${why}` });
        return;
      }
      if (t0 === null || t1 === null) { resolve({ error: 'server exited during the measured window' }); return; }
      resolve({ out, serverTicks: t1 - t0, machineTicks: m1 - m0 });
    });
  });
}

// ---------- one run ----------

async function runOne(server, cell, f, taskset) {
  const missing = server.missing?.();
  if (missing) return { error: missing };
  let port;
  try { port = await freshPort(); } catch (e) { return { error: e.message }; }
  const started = await startServer(server, port, f, taskset);
  const { child } = started;
  try {
    if (started.error) return { error: started.error };
    if (!(await accepts(port))) return { error: `printed '${started.banner}' but port ${port} does not accept` };
    const r = await runLoadgen(port, cell, f, taskset, child.pid);
    if (r.error) {
      const serr = child.stderrText();
      return { error: r.error + (serr ? ` (server stderr: ${tail(serr)})` : ''), banner: started.banner };
    }
    const o = r.out;
    const serverCpuS = r.serverTicks / CLK_TCK;
    return {
      banner: started.banner,
      rt: o.roundtrips,
      rps: o.roundtrips_per_s,
      mbps: o.mb_per_s,
      p50: o.latency_us.p50,
      p99: o.latency_us.p99,
      p999: o.latency_us.p999,
      clientPct: o.client_cpu_pct,
      serverUsPerRt: (serverCpuS * 1e6) / o.roundtrips,
      serverPct: (100 * serverCpuS) / o.duration_s,
      // CPU used by anything but the server and the load generator (other
      // processes, ksoftirqd, steal), as % of one core.
      otherPct: Math.max(0, (100 * (r.machineTicks / CLK_TCK - serverCpuS - o.client_cpu_s)) / o.duration_s),
    };
  } finally {
    await stopServer(child);
    if (!(await waitClosed(port))) process.stderr.write(`bench: warning: port ${port} still accepts 10 s after ${server.name} exited\n`);
  }
}

// ---------- reporting ----------

const METRICS = ['serverUsPerRt', 'rps', 'mbps', 'p50', 'p99', 'p999', 'clientPct', 'serverPct', 'otherPct'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(runs) {
  const ok = runs.filter((r) => !r.error);
  if (!ok.length) return { error: runs[0]?.error || 'no run', runs: runs.length };
  const s = { ok: ok.length, runs: runs.length, banner: ok[0].banner };
  for (const k of METRICS) s[k] = median(ok.map((r) => r[k]));
  if (ok.length < runs.length) s.note = `${runs.length - ok.length} of ${runs.length} runs failed: ${runs.find((r) => r.error).error}`;
  return s;
}

const fmt = (x, d = 0) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const fmtLat = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)}`);
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');

const OTHER_WARN = 10; // other CPU% from which a row is marked '?'
const HEADER = ['server', 'srv CPU µs/rt', '× c-uring', '× node:net', 'rt/s', 'rt/s × node:net', 'MB/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'srv CPU%', 'client CPU%', 'other CPU%'];

function tableRows(results, serverNames) {
  const floor = results['c-uring'];
  const node = results['node:net'];
  const rows = [];
  const notes = [];
  for (const name of serverNames) {
    const s = results[name];
    if (!s) continue;
    if (s.skipped) { notes.push(`${name}: skipped (${s.skipped})`); continue; }
    if (s.error) {
      rows.push([name, 'error', ...HEADER.slice(2).map(() => '')]);
      notes.push(`${name}: ${s.error}`);
      continue;
    }
    const sat = s.clientPct >= 90 ? ' !' : '';
    rows.push([
      name,
      fmt(s.serverUsPerRt, 2),
      floor && !floor.error && !floor.skipped ? ratio(s.serverUsPerRt, floor.serverUsPerRt) : '-',
      node && !node.error && !node.skipped ? ratio(s.serverUsPerRt, node.serverUsPerRt) : '-',
      fmt(s.rps),
      node && !node.error && !node.skipped ? ratio(s.rps, node.rps) : '-',
      fmt(s.mbps, s.mbps < 100 ? 1 : 0),
      fmtLat(s.p50), fmtLat(s.p99), fmtLat(s.p999),
      fmt(s.serverPct), fmt(s.clientPct) + sat, fmt(s.otherPct) + (s.otherPct >= OTHER_WARN ? ' ?' : ''),
    ]);
    if (s.note) notes.push(`${name}: ${s.note}`);
  }
  return { rows, notes };
}

function markdownTable(rows) {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function textTable(rows) {
  const all = [HEADER, ...rows];
  const w = HEADER.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')).join('\n');
}

function stamp(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

// ---------- main ----------

async function main() {
  const f = parseFlags(process.argv.slice(2));
  if (!fs.existsSync(LOADGEN)) die(`${path.relative(ROOT, LOADGEN)} missing: run npm run build:bench first`);
  const taskset = !!which('taskset');
  const cells = f.cells ? parseCells(f.cells, f) : matrix(f);
  const servers = selectServers(f.servers);
  const machine = machineInfo();
  const started = new Date();
  const command = `node bench/run.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

  const pinning = taskset
    ? 'servers pinned to CPU 0 (taskset -c 0), load generator to CPU 1 (taskset -c 1)'
    : 'taskset not found: servers and load generator run UNPINNED (numbers are less comparable)';
  console.log(`percore echo benchmark: ${cells.length} cells x ${servers.length} servers x ${f.repeat} repeat(s), ${f.warmup} s warm-up + ${f.duration} s measured each`);
  console.log(`${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}; ${pinning}`);
  if (machine.cores < 2) console.log('warning: fewer than 2 cores: server and load generator share a core');

  const skipped = {};
  for (const s of servers) {
    const why = s.skip?.();
    if (why) { skipped[s.name] = why; console.log(`${s.name}: skipped (${why})`); }
  }
  const active = servers.filter((s) => !skipped[s.name]);

  const sections = [];
  for (const cell of cells) {
    const runs = Object.fromEntries(active.map((s) => [s.name, []]));
    for (let rep = 0; rep < f.repeat; rep++) {
      for (const s of active) {
        const r = await runOne(s, cell, f, taskset);
        runs[s.name].push(r);
        const tag = `[${cellTitle(cell, f)}${f.repeat > 1 ? `, run ${rep + 1}/${f.repeat}` : ''}] ${s.name}`;
        if (r.error) console.log(`  ${tag}: ERROR ${r.error}`);
        else console.log(`  ${tag}: ${fmt(r.serverUsPerRt, 2)} µs/rt server CPU, ${fmt(r.rps)} rt/s, client CPU ${fmt(r.clientPct)}%`);
      }
    }
    const results = {};
    for (const s of servers) results[s.name] = skipped[s.name] ? { skipped: skipped[s.name] } : summarize(runs[s.name]);
    const { rows, notes } = tableRows(results, servers.map((s) => s.name));
    const banners = active.map((s) => results[s.name].banner).filter(Boolean);
    sections.push({ title: cellTitle(cell, f), rows, notes, banners, results });
    console.log(`\n### ${cellTitle(cell, f)}${f.repeat > 1 ? ` (median of ${f.repeat})` : ''}\n${textTable(rows)}`);
    for (const n of notes) console.log(`  note: ${n}`);
    console.log('');
  }

  const elapsed = ((Date.now() - started.getTime()) / 1000).toFixed(0);
  const anySat = sections.some((s) => s.rows.some((r) => String(r[11]).endsWith('!')));
  const anyNoisy = sections.some((s) => s.rows.some((r) => String(r[12]).endsWith('?')));
  const md = [];
  md.push(`# Echo benchmark, ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC`, '');
  md.push(`Command: \`${command}\` (${elapsed} s)`, '');
  md.push('| | |', '|:--|:--|');
  md.push(`| CPU | ${machine.cpu}, ${machine.cores} cores |`);
  md.push(`| kernel | ${machine.kernel} |`);
  md.push(`| node | ${machine.node} |`);
  md.push(`| C compiler | ${machine.cc} |`);
  md.push(`| bun | ${machine.bun || 'not installed (skipped)'} |`);
  md.push(`| percore commit | ${machine.commit} |`);
  md.push(`| pinning | ${pinning} |`);
  md.push(`| per run | fresh server process and port; ${f.warmup} s warm-up, ${f.duration} s measured; ${f.repeat} run(s) per cell and server, medians reported |`);
  md.push(`| buffers | C servers and percore: --buffer-size ${f.bufferSize}; depth ${f.depth} message(s) in flight per connection |`);
  md.push('');
  md.push(`Columns are explained in bench/README.md. "srv CPU µs/rt" is the server process's utime+stime over the measured window divided by round trips; lower is better and it is the figure to compare while the client is saturated (client CPU% marked "!" at 90% or more: rt/s is then client-bound). "other CPU%" is CPU used on the machine by anything else during the window (other processes, ksoftirqd, steal), % of one core; marked "?" from ${OTHER_WARN}%: that row's rt/s and latency are suspect, rerun it.`);
  md.push('');
  for (const s of sections) {
    md.push(`## ${s.title}`, '', markdownTable(s.rows), '');
    for (const n of s.notes) md.push(`- ${n}`);
    if (s.notes.length) md.push('');
  }
  md.push('## Servers as they reported themselves', '');
  const seen = new Set();
  for (const s of sections) for (const b of s.banners) {
    const key = b.replace(/127\.0\.0\.1:\d+/, 'HOST:PORT').replace(/pid=\d+/, 'pid=…');
    if (!seen.has(key)) { seen.add(key); md.push(`- \`${key}\``); }
  }
  md.push('');
  if (anySat) console.log('"!" = client at 90%+ of its core: rt/s is client-bound there; compare server CPU µs/rt.');
  if (anyNoisy) console.log(`"?" = other processes used ${OTHER_WARN}%+ of a core during that run: rt/s and latency are suspect; rerun with --repeat or --cells.`);

  if (f.write) {
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${stamp(started)}.md`);
    fs.writeFileSync(file, md.join('\n'));
    console.log(`wrote ${path.relative(ROOT, file)} (${elapsed} s)`);
  }
}

main().catch((err) => die(err.stack || String(err)));
