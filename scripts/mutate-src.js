#!/usr/bin/env node
// Stryker over src/ in chunks, and the score over all of them.
//
// A whole Stryker run over src/ takes hours on a 2-core machine (about 4,500
// mutants; docs/TESTING.md gives the time), longer than one sitting. So it runs
// one chunk (a folder or a few) at a time, each to its own JSON report in
// reports/mutation/chunks/, and a run picks up where the last stopped: a
// chunk whose report is newer than every source and test file is not run
// again. `--score` reads the reports and prints the score and every
// surviving mutant (for the triage in docs/TESTING.md).
//
//   npm run test:mutation:src                  # every chunk not yet up to date, then the score
//   npm run test:mutation:src -- --only io     # chunks whose name starts so (comma-separated)
//   npm run test:mutation:src -- --force       # run even up-to-date chunks
//   npm run test:mutation:src -- --score       # no run: the score of the reports there are
//   npm run test:mutation:src -- --list        # the chunks
//
// Exit status: 1 if a chunk failed to run, or the score is under THRESHOLD.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'reports', 'mutation', 'chunks');
const THRESHOLD = 80;

/** Every file under src/ that Stryker mutates falls in exactly one chunk
 * (checked before a run). */
const CHUNKS = [
  // Small enough to finish in one sitting: an interrupted chunk writes no report.
  { name: 'runtime', mutate: ['src/runtime/runtime.ts'] },
  {
    name: 'runtime-parts',
    mutate: [
      'src/runtime/{buffer-waiter,cancel,counters,microtask,op-handler,options,sleep-op,submit-errors,task,wait-room}.ts',
    ],
  },
  { name: 'io-transfer', mutate: ['src/io/{fd-stream,transfer,transfer-args,stream-op,plain-op,settlers,rent}.ts'] },
  { name: 'io-recv-copy', mutate: ['src/io/{receiver,copy,core-relay,js-relay,copy-progress,splice-copy}.ts'] },
  { name: 'io-buffered', mutate: ['src/io/{buf-reader,buf-writer,buf-common,prefixed}.ts', 'src/io/codec/**/*.ts'] },
  { name: 'net-tcp', mutate: ['src/net/{address,listener,tcp-listener,tcp-stream}.ts'] },
  {
    name: 'net-unix-udp',
    mutate: [
      'src/net/{datagram-op,datagram-socket,socket-options,udp-socket,unix-datagram,unix-listener,unix-name,unix-seqpacket,unix-stream}.ts',
    ],
  },
  { name: 'bridge', mutate: ['src/bridge/**/*.ts'] },
  { name: 'http', mutate: ['src/http/**/*.ts'] },
  { name: 'fs', mutate: ['src/fs/**/*.ts'] },
  { name: 'sim', mutate: ['src/sim/**/*.ts'] },
  { name: 'channel', mutate: ['src/channel/**/*.ts'] },
  { name: 'threads', mutate: ['src/threads/**/*.ts'] },
  {
    name: 'base',
    mutate: ['src/{errors,driver,package}/**/*.ts', 'src/core/wasm.ts', 'src/*.ts'],
  },
];

/** A glob of the chunks' kind (`**`, `*`, `{a,b}`) as a regular expression. */
function globRegExp(glob) {
  const re = glob
    .replace(/[.+^$()|[\]\\]/g, '\\$&')
    .replace(/\*\*\//g, '@GLOBSTAR@')
    .replace(/\*/g, '[^/]*')
    .replace(/@GLOBSTAR@/g, '(?:.*/)?')
    .replace(/\{([^}]*)\}/g, (_, alts) => `(?:${alts.split(',').join('|')})`);
  return new RegExp(`^${re}$`);
}

/** The files under src/ Stryker mutates that no chunk or more than one holds. */
function unchunked() {
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, 'stryker.config.json'), 'utf8'));
  const excluded = base.mutate.filter((m) => m.startsWith('!')).map((m) => globRegExp(m.slice(1)));
  const chunkRes = CHUNKS.map((c) => c.mutate.map(globRegExp));
  const wrong = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts') && !excluded.some((re) => re.test(rel))) {
        const holders = chunkRes.filter((res) => res.some((re) => re.test(rel))).length;
        if (holders !== 1) wrong.push(`${rel} (in ${holders} chunks)`);
      }
    }
  };
  walk('src');
  return wrong;
}

function parseArgs(argv) {
  const args = { only: [], force: false, scoreOnly: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') args.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--force') args.force = true;
    else if (a === '--score') args.scoreOnly = true;
    else if (a === '--list') args.list = true;
    else throw new Error(`unknown argument ${a} (use --only NAMES, --force, --score, --list)`);
  }
  return args;
}

const reportOf = (chunk) => path.join(OUT, `${chunk.name}.json`);

function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(ROOT, 'src'));
  walk(path.join(ROOT, 'test'));
  return newest;
}

function upToDate(chunk) {
  const report = reportOf(chunk);
  return fs.existsSync(report) && fs.statSync(report).mtimeMs > newestSource();
}

function runChunk(chunk) {
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, 'stryker.config.json'), 'utf8'));
  const config = {
    ...base,
    mutate: [...chunk.mutate, ...base.mutate.filter((m) => m.startsWith('!'))],
    reporters: ['clear-text', 'progress', 'json'],
    jsonReporter: { fileName: path.relative(ROOT, reportOf(chunk)) },
    tempDirName: `.stryker-tmp/${chunk.name}`,
  };
  delete config.htmlReporter;
  fs.mkdirSync(OUT, { recursive: true });
  const configFile = path.join(OUT, `${chunk.name}.config.json`);
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const started = Date.now();
  console.log(`\n== chunk ${chunk.name}: ${chunk.mutate.join(' ')}`);
  const r = spawnSync('npx', ['stryker', 'run', configFile], { cwd: ROOT, stdio: 'inherit' });
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  console.log(`== chunk ${chunk.name}: exit ${r.status} after ${minutes} min`);
  return r.status === 0;
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/** Reads every chunk's report: counts by status, and the undetected mutants. */
function score(chunks) {
  const counts = {};
  const undetected = [];
  const missing = [];
  for (const chunk of chunks) {
    if (!fs.existsSync(reportOf(chunk))) {
      missing.push(chunk.name);
      continue;
    }
    const report = JSON.parse(fs.readFileSync(reportOf(chunk), 'utf8'));
    for (const [file, { mutants }] of Object.entries(report.files)) {
      for (const m of mutants) {
        counts[m.status] = (counts[m.status] ?? 0) + 1;
        if (UNDETECTED.has(m.status)) {
          const at = `${path.relative(ROOT, path.resolve(ROOT, file))}:${m.location.start.line}`;
          undetected.push({ at, status: m.status, mutator: m.mutatorName, replacement: m.replacement });
        }
      }
    }
  }
  const detected = [...DETECTED].reduce((n, s) => n + (counts[s] ?? 0), 0);
  const total = detected + [...UNDETECTED].reduce((n, s) => n + (counts[s] ?? 0), 0);
  return { counts, detected, total, percent: total === 0 ? 0 : (100 * detected) / total, undetected, missing };
}

function printScore(s) {
  console.log('\nundetected mutants:');
  for (const u of s.undetected) {
    const replacement = (u.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80);
    console.log(`  ${u.status.padEnd(10)} ${u.at.padEnd(36)} ${u.mutator}: ${replacement}`);
  }
  console.log(`\nstatus counts: ${JSON.stringify(s.counts)}`);
  if (s.missing.length > 0) console.log(`chunks without a report (not in the score): ${s.missing.join(', ')}`);
  console.log(
    `mutation score: ${s.percent.toFixed(1)}% (${s.detected} of ${s.total} detected: killed or timed out; compile and runtime errors are not counted)`,
  );
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const wrong = unchunked();
  if (wrong.length > 0) {
    console.error(`mutate-src: every mutated file must be in exactly one chunk (CHUNKS):\n  ${wrong.join('\n  ')}`);
    return 1;
  }
  const chosen = CHUNKS.filter((c) => args.only.length === 0 || args.only.some((o) => c.name.startsWith(o)));
  if (args.list) {
    for (const c of CHUNKS)
      console.log(`${c.name.padEnd(14)} ${upToDate(c) ? 'up to date' : 'to run    '} ${c.mutate.join(' ')}`);
    return 0;
  }
  let failed = false;
  if (!args.scoreOnly) {
    for (const chunk of chosen) {
      if (!args.force && upToDate(chunk)) {
        console.log(`== chunk ${chunk.name}: up to date (its report is newer than src/ and test/)`);
        continue;
      }
      if (!runChunk(chunk)) failed = true;
    }
  }
  const s = score(CHUNKS);
  printScore(s);
  if (failed) return 1;
  return s.missing.length === 0 && s.percent < THRESHOLD ? 1 : 0;
}

process.exitCode = main();
