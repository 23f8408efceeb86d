// The soak: the echo example (dist/examples/echo.js) on each driver, driven
// for minutes the way a production server is: connection churn, bursts past
// every capacity, hostile peers and SIGTERM under load. Not part of CI.
//
//   npm run build && npm run soak            # both drivers, a few minutes
//   node bench/soak/run.js --drivers epoll --rounds 10
//
// Every byte a client sends is checked against what it gets back, byte for
// byte. The server's RSS (VmRSS in /proc/<pid>/status) and open descriptors
// (/proc/<pid>/fd) are sampled; the table says, per scenario and driver, the
// connections, the bytes echoed, the bytes lost, RSS and fds at the start and
// the end, and the result. It exits 1 on any lost byte, a server that dies or
// exits non-zero, descriptors not back to their start, or RSS growth.
//
// What counts as growth: in the churn, RSS is taken once the server is warm
// (after the first WARMUP of the rounds: V8's heap, the pool and the code
// caches have reached their size) and again at the end; the end may exceed
// the warm value by at most RSS_TOLERANCE_MIB. The tolerance covers the V8
// heap's breathing between collections (a few MiB on this machine) and is
// well under what a leak of one 8 KiB pool buffer, or of one socket's kernel
// and JS objects (~2 KiB), per connection would add over the churn's
// thousands of connections (CHURN_CONNECTIONS x 8 KiB = tens of MiB).
// Descriptors must come back exactly: a server with no client holds its
// listener, its ring and its wake-up fds, and nothing else.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const ECHO = path.join(ROOT, 'dist', 'examples', 'echo.js');
const RSS_TOLERANCE_MIB = 12;
const WARMUP = 0.25;

function parseArgs(argv) {
  const args = { drivers: ['uring', 'epoll'], rounds: 100, perRound: 100 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--drivers') args.drivers = argv[++i].split(',');
    else if (argv[i] === '--rounds') args.rounds = Number(argv[++i]);
    else if (argv[i] === '--per-round') args.perRound = Number(argv[++i]);
    else throw new Error(`soak: unknown argument ${argv[i]}`);
  }
  return args;
}

// ---- the server ------------------------------------------------------------

/** Starts the echo; resolves { child, port, exited } once it listens. */
function startEcho(driver, { io = 'read', buffers = 1024, ulimit, threads = 1 } = {}) {
  const echoArgs = [ECHO, '--port', '0', '--threads', String(threads), '--driver', driver];
  echoArgs.push('--buffers', String(buffers), '--io', io, '--shutdown-timeout', '3000');
  const child = ulimit
    ? spawn('bash', ['-c', `ulimit -n ${ulimit}; exec "$0" "$@"`, process.execPath, ...echoArgs])
    : spawn(process.execPath, echoArgs);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), exited, stderr: () => stderr });
    });
    exited.then(({ code }) => reject(new Error(`echo exited with ${code} before listening: ${stderr}`)));
  });
}

/** The server's RSS in MiB and its open descriptors. */
function sample(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
  return { rss, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

/** Samples the server every 50 ms until `stop()`, which returns the peaks:
 * proof that a burst did reach the limits it was meant to go past. */
function watch(pid) {
  const peak = { rss: 0, fds: 0 };
  const timer = setInterval(() => {
    try {
      const s = sample(pid);
      peak.rss = Math.max(peak.rss, s.rss);
      peak.fds = Math.max(peak.fds, s.fds);
    } catch {
      // the server is exiting
    }
  }, 50);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** Waits (polling /proc, bounded) until the server's fds are back to `fds`. */
async function fdsSettle(pid, fds) {
  for (let i = 0; i < 200; i++) {
    if (sample(pid).fds <= fds) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- clients ---------------------------------------------------------------

/** Deterministic bytes, a 32-bit LCG word at a time: every position checkable. */
function pattern(size, seed) {
  const buf = Buffer.alloc(size + 3);
  let x = (seed * 2654435761) >>> 0;
  for (let at = 0; at < size; at += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    buf.writeUInt32LE(x, at);
  }
  return buf.subarray(0, size);
}

/** Bytes of `got` that match `sent` from the start. */
function matching(sent, got) {
  const n = Math.min(sent.length, got.length);
  for (let i = 0; i < n; i++) if (sent[i] !== got[i]) return i;
  return n;
}

/**
 * One client: connects, sends `payload` (whole, or `trickle` bytes at a
 * time), half-closes, and collects the echo until the server closes.
 * Resolves { sent, echoed, ok } where `echoed` counts matching bytes.
 */
function echoClient(port, payload, { trickle = 0 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('connect', async () => {
      if (trickle === 0) {
        socket.end(payload);
        return;
      }
      for (let at = 0; at < payload.length; at += trickle) {
        if (!socket.write(payload.subarray(at, at + trickle))) await new Promise((r) => socket.once('drain', r));
        await new Promise((r) => setTimeout(r, 1));
      }
      socket.end();
    });
    socket.on('data', (d) => chunks.push(d));
    const done = (err) => {
      const got = Buffer.concat(chunks);
      const echoed = matching(payload, got);
      resolve({ sent: payload.length, received: got.length, echoed, ok: !err && echoed === payload.length });
    };
    socket.on('end', () => done(null));
    socket.on('error', (err) => done(err));
  });
}

/** A peer that sends, then resets the connection (SO_LINGER 0, an RST). */
function resetPeer(port, payload) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(payload, () => setImmediate(() => socket.resetAndDestroy()));
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** A peer that sends a lot and never reads: the server's writes stall on it.
 * Returns a function that finally resets it. */
function neverReader(port, size) {
  const socket = net.connect(port, '127.0.0.1', () => {
    socket.pause();
    socket.write(pattern(size, 99));
  });
  socket.on('error', () => {});
  return () =>
    new Promise((resolve) => {
      socket.once('close', resolve);
      socket.resetAndDestroy();
    });
}

/** Runs `n` echo clients, at most `concurrency` at a time. */
async function echoMany(port, n, { size, concurrency = n, seed = 1, trickle = 0 }) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results.push(await echoClient(port, pattern(size(i), seed + i), { trickle }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return results;
}

/** Bytes echoed exactly, and bytes lost: not echoed (when `complete`, every
 * byte must come back) or echoed wrong (a byte that differs, or one too many). */
function tally(results, { complete = true } = {}) {
  let bytes = 0;
  let lost = 0;
  for (const r of results) {
    bytes += r.echoed;
    lost += r.received - r.echoed;
    if (complete) lost += r.sent - r.echoed;
  }
  return { connections: results.length, bytes, lost };
}

// ---- scenarios -------------------------------------------------------------

/** Stops the server with SIGTERM and reports how it exited. */
async function stop(server) {
  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  return code === 0 ? null : `exit ${code ?? signal}`;
}

/** The server's first sample, and a watch over it from now on. */
function begin(server) {
  const start = sample(server.child.pid);
  return { start, stopWatch: watch(server.child.pid) };
}

/** Once the clients are gone: the server's fds must come back to `start`'s,
 * then it is stopped and must exit 0. Returns the last sample and the problems. */
async function finish(server, { start, stopWatch }) {
  const pid = server.child.pid;
  await fdsSettle(pid, start.fds);
  const end = sample(pid);
  end.peak = stopWatch();
  const problems = [];
  if (end.fds !== start.fds) problems.push(`fds ${start.fds} -> ${end.fds}`);
  const exit = await stop(server);
  if (exit) problems.push(exit);
  return { end, problems };
}

/** Connection churn: rounds of short connections; RSS flat after warm-up, fds back each round. */
async function churn(driver, args) {
  const server = await startEcho(driver);
  const pid = server.child.pid;
  const watched = begin(server);
  const { start } = watched;
  const results = [];
  let warm;
  for (let round = 0; round < args.rounds; round++) {
    const size = (i) => 1 + ((i * 7919 + round * 104729) % 65536);
    results.push(...(await echoMany(server.port, args.perRound, { size, concurrency: 50, seed: round * 1000 })));
    await fdsSettle(pid, start.fds);
    if (round + 1 === Math.ceil(args.rounds * WARMUP)) warm = sample(pid);
  }
  const { end, problems } = await finish(server, watched);
  const growth = `RSS ${end.rss >= warm.rss ? '+' : ''}${(end.rss - warm.rss).toFixed(1)} MiB after warm-up`;
  if (end.rss > warm.rss + RSS_TOLERANCE_MIB) problems.push(`${growth} (tolerance ${RSS_TOLERANCE_MIB})`);
  return { scenario: 'churn', driver, ...tally(results), start, end, note: growth, problems };
}

/** Bursts past every capacity: more clients at once than pool buffers, op
 * slots and the server's descriptors (ulimit -n), in each I/O mode. */
async function burst(driver, io) {
  const server = await startEcho(driver, { io, buffers: 16, ulimit: 128 });
  const watched = begin(server);
  // 16 buffers, 96 op slots (2 x buffers + 64), 128 descriptors: 400 at once.
  const results = await echoMany(server.port, 400, { size: (i) => 4096 + ((i * 31) % 16384), seed: 7 });
  const { end, problems } = await finish(server, watched);
  return { scenario: `burst --io ${io}`, driver, ...tally(results), start: watched.start, end, problems };
}

/** Hostile peers beside honest ones: resets, half-closes, tricklers and
 * peers that never read; the honest clients must all be served exactly. */
async function hostile(driver) {
  const server = await startEcho(driver, { buffers: 256 });
  const watched = begin(server);
  const stalls = Array.from({ length: 20 }, () => neverReader(server.port, 8 << 20));
  const resets = Array.from({ length: 100 }, (_, i) => resetPeer(server.port, pattern(1 + i * 997, i)));
  const [halfClose, trickle] = await Promise.all([
    echoMany(server.port, 200, { size: (i) => 1 + i * 331, concurrency: 40, seed: 11 }),
    echoMany(server.port, 20, { size: () => 3000, trickle: 7, seed: 13 }),
  ]);
  await Promise.all(resets);
  await Promise.all(stalls.map((reset) => reset()));
  const { end, problems } = await finish(server, watched);
  return {
    scenario: 'hostile peers',
    driver,
    ...tally([...halfClose, ...trickle]),
    start: watched.start,
    end,
    problems,
  };
}

/** SIGTERM while 100 clients stream: exit code 0, and every byte a client
 * got back is the byte it sent there (a cut-off echo is fine, a wrong one is lost). */
async function sigterm(driver) {
  const server = await startEcho(driver, { threads: 2 });
  const { start, stopWatch } = begin(server);
  const clients = echoMany(server.port, 100, { size: () => 4 << 20, seed: 17 });
  await new Promise((r) => setTimeout(r, 500)); // under load
  const end = sample(server.child.pid);
  const exit = await stop(server);
  end.peak = stopWatch();
  const results = await clients;
  // A client cut off by the shutdown is not a loss: what it got back must
  // be exactly the start of what it sent, no byte wrong and none extra.
  const problems = exit ? [exit] : [];
  const note = `exit 0; fds end = at the signal`;
  return { scenario: 'SIGTERM under load', driver, ...tally(results, { complete: false }), start, end, note, problems };
}

// ---- main ------------------------------------------------------------------

function row(r) {
  const mib = (s) => `${s.rss.toFixed(1)}`;
  return [
    r.scenario,
    r.driver,
    r.connections,
    r.bytes,
    r.lost,
    `${mib(r.start)} / ${mib(r.end)}`,
    `${r.start.fds} / ${r.end.peak.fds} / ${r.end.fds}`,
    r.lost === 0 && r.problems.length === 0 ? `ok${r.note ? ` (${r.note})` : ''}` : `FAIL ${r.problems.join('; ')}`,
  ];
}

function table(rows) {
  const head = [
    'scenario',
    'driver',
    'connections',
    'bytes',
    'lost bytes',
    'RSS MiB start / end',
    'fds start / peak / end',
    'result',
  ];
  const lines = [head, ...rows.map(row)].map((cells) => `| ${cells.join(' | ')} |`);
  lines.splice(1, 0, `|${head.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(ECHO)) throw new Error(`soak: ${ECHO} is missing: run npm run build first`);
  const results = [];
  for (const driver of args.drivers) {
    for (const run of [
      () => churn(driver, args),
      () => burst(driver, 'read'),
      () => burst(driver, 'recv'),
      () => burst(driver, 'copy'),
      () => hostile(driver),
      () => sigterm(driver),
    ]) {
      const r = await run();
      results.push(r);
      process.stderr.write(`soak: ${row(r).join('  ')}\n`);
    }
  }
  process.stdout.write(`${table(results)}\n`);
  const failed = results.filter((r) => r.lost > 0 || r.problems.length > 0);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`soak: ${err.stack ?? err}\n`);
  process.exit(1);
});
