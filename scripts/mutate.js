#!/usr/bin/env node
// Mutation testing for the layers no off-the-shelf tool fits: the core
// (AssemblyScript) and the host (C++). Each mutation in test/mutation/
// mutations.js is a realistic bug: a bounds check dropped, an ownership
// transition skipped, an error path that forgets a release. One at a time, in
// a scratch copy of the repository, it is applied, its layer rebuilt and the
// tests it names run: the tests must fail (the mutation is "killed"). A
// mutation they survive is a bug the suite would let through; this script
// then exits 1.
//
//   npm run test:mutation                       # every mutation
//   npm run test:mutation -- --only core-,host-fd  # those whose id starts so (a comma-separated list)
//   npm run test:mutation -- --list             # the list, nothing run
//
// The working tree is never touched: the copy lives in a temporary directory
// (node_modules linked, not copied) and is removed at the end.

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const MUTATIONS = require('../test/mutation/mutations');

const ROOT = path.resolve(__dirname, '..');
const BUILD = {
  core: ['npm', ['run', '--silent', 'build:core']],
  host: ['npm', ['run', '--silent', 'build:host']],
};

function parseArgs(argv) {
  const args = { only: '', list: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') args.only = argv[++i] ?? '';
    else if (argv[i] === '--list') args.list = true;
    else if (argv[i] === '--keep') args.keep = true;
    else throw new Error(`unknown argument ${argv[i]} (use --only PREFIX, --list, --keep)`);
  }
  return args;
}

/** Every mutation's text must be where it says, exactly once: a stale entry fails loudly. */
function checkApplies(mutation, source) {
  const count = source.split(mutation.find).length - 1;
  if (count !== 1) {
    throw new Error(`${mutation.id}: expected its text once in ${mutation.file}, found it ${count} times`);
  }
}

/** A scratch copy of the tracked files, with node_modules linked and everything built. */
function scratchCopy() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-mutate-'));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!fs.existsSync(path.join(ROOT, file))) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  run(dir, 'npm', ['run', '--silent', 'build']);
  return dir;
}

/** How long one trial's tests may run: a mutation that makes native code spin
 * forever cannot be stopped by jest's per-test timeout. */
const TRIAL_TIMEOUT_MS = 240_000;
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

function run(cwd, cmd, args, timeout = 0) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    timeout,
    killSignal: 'SIGKILL',
  });
  const hung = r.error !== undefined && r.error.code === 'ETIMEDOUT';
  return { ok: r.status === 0, hung, output: `${r.stdout}${r.stderr}` };
}

/** Applies one mutation, rebuilds its layer, runs its tests, restores the file. */
function trial(dir, mutation) {
  const file = path.join(dir, mutation.file);
  const original = fs.readFileSync(file, 'utf8');
  checkApplies(mutation, original);
  const started = Date.now();
  fs.writeFileSync(file, original.replace(mutation.find, mutation.replace));
  try {
    const build = run(dir, ...BUILD[mutation.layer]);
    // A mutation that does not build is not a bug the tests must catch: say so, it is a broken entry.
    if (!build.ok) return { status: 'does not build', seconds: 0, detail: build.output.slice(-2000) };
    // --bail and a short test timeout: the first failure, or a hang, kills it.
    const tests = run(
      dir,
      process.execPath,
      // In band: the tests run in this one process, so the timeout's SIGKILL ends them all.
      [JEST, '--ci', '--silent', '--bail', '--runInBand', '--testTimeout=8000', ...mutation.tests],
      TRIAL_TIMEOUT_MS,
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    // A hang is caught too: CI would never finish.
    if (tests.hung) return { status: 'killed (hung)', seconds, detail: `no result in ${TRIAL_TIMEOUT_MS / 1000} s` };
    return { status: tests.ok ? 'SURVIVED' : 'killed', seconds, detail: tests.ok ? '' : firstFailure(tests.output) };
  } finally {
    fs.writeFileSync(file, original);
  }
}

function firstFailure(output) {
  const line = output.split('\n').find((l) => l.includes('●'));
  return line ? line.trim() : '';
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const prefixes = args.only.split(',');
  const chosen = MUTATIONS.filter((m) => prefixes.some((p) => m.id.startsWith(p)));
  for (const m of chosen) checkApplies(m, fs.readFileSync(path.join(ROOT, m.file), 'utf8'));
  if (args.list) {
    for (const m of chosen) console.log(`${m.id.padEnd(34)} ${m.layer.padEnd(5)} ${m.file}: ${m.why}`);
    return 0;
  }
  const dir = scratchCopy();
  const rows = [];
  let failed = 0;
  try {
    for (const [i, m] of chosen.entries()) {
      // The previous mutation's layer is rebuilt clean before the next one.
      if (i > 0 && chosen[i - 1].layer !== m.layer) run(dir, ...BUILD[chosen[i - 1].layer]);
      const r = trial(dir, m);
      if (!r.status.startsWith('killed')) failed++;
      rows.push([m.id, m.layer, r.status, `${r.seconds}s`, r.detail.slice(0, 100)]);
      console.log(rows[rows.length - 1].join('  '));
    }
  } finally {
    if (!args.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${chosen.length - failed} of ${chosen.length} mutations killed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
