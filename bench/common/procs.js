// What the benchmark runners share about server processes: ports that are
// free, starting a server pinned to a CPU and knowing when it is ready,
// stopping it and waiting for its port to close, its CPU time from /proc,
// and the median of a cell's rounds.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Resolves true if something accepts on 127.0.0.1:port. */
function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
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

// Above the ephemeral range (32768-60999 here): the benchmark's own client
// connections cannot take these ports.
let nextPort = 61000 + (process.pid % 100) * 40;
async function freshPort() {
  for (;;) {
    const port = nextPort++;
    if (nextPort > 65000) nextPort = 61000;
    if (!(await accepts(port)) && (await bindable(port))) return port;
  }
}

/** Starts `argv` pinned to `cpu`; resolves the child once a line of its
 * output matches `ready`, or (with no `ready`) once `port` accepts. */
function startServer({ name, argv, ready, port, cpu = 0 }) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(cpu), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 10000);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout.on('data', (d) => {
      out += d;
      if (ready && out.split('\n').some((l) => ready.test(l))) finish();
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${name} exited with ${code}: ${out}`));
    });
    if (!ready) {
      (async () => {
        while (!done && !(await accepts(port))) await sleep(20);
        finish();
      })();
    }
  });
}

async function stopServer(child, port) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  for (let i = 0; i < 100 && (await accepts(port)); i++) await sleep(50);
}

/** Runs a load generator pinned to `cpu` under a shell that reports its CPU
 * afterwards (the shell's cutime+cstime, in ticks); resolves its output. */
function runClient(argv, cpu = 1) {
  return new Promise((resolve, reject) => {
    const script = '"$@"; s=$?; echo; echo "STAT $(cat /proc/$$/stat)"; exit $s';
    const child = spawn('taskset', ['-c', String(cpu), 'sh', '-c', script, 'sh', ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => {
      const stat = /STAT .*\) (.*)/.exec(out);
      const rest = stat ? stat[1].split(' ') : [];
      const clientTicks = Number(rest[13]) + Number(rest[14]);
      if (code !== 0) reject(new Error(`${argv[0]} failed (${code}): ${out.slice(-400)}`));
      else resolve({ out, clientTicks });
    });
  });
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Bun is not a dependency of percore: `npm install --no-save bun@1` fetches
// it for benchmarks. npm may skip the `bun` package's install script; the
// binary then still arrives through its optional dependency @oven/bun-linux-x64.
const BUN_CANDIDATES = [
  path.join(ROOT, 'node_modules', '.bin', 'bun'),
  path.join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe'),
  path.join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
];

/** The bun binary, or null if it is not installed. */
function bunPath() {
  for (const p of BUN_CANDIDATES) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).size > 1e6) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

module.exports = {
  ROOT,
  runClient,
  bunPath,
  CLK_TCK,
  sleep,
  cpuTicks,
  accepts,
  bindable,
  freshPort,
  startServer,
  stopServer,
  median,
};
