#!/usr/bin/env node
// npm run prebuild [-- linux-x64,linux-arm64]: builds the addon for each
// target into prebuilds/<target>/percore.node, the binaries `npm pack` ships
// (see docs/PACKAGING.md). linux-x64 is built with the machine's compiler,
// linux-arm64 cross-compiled with Debian's g++-aarch64-linux-gnu through
// host/toolchains/aarch64-linux-gnu.cmake. Node-API 8 (package.json
// "binary"), so one binary serves every Node from 20 on.
//
// Each build has its own cmake folder (build/prebuild/<target>) so the two
// never share a cache, and is checked before it is kept: stripped, an ELF file
// for the target's CPU; the newest glibc symbol version it needs is printed
// (it sets the oldest glibc the prebuild runs on; docs/PACKAGING.md).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');

/** Per target: the toolchain file (none: the machine's compiler), the ELF
 * e_machine it must have, and the binutils prefix for strip/objdump. */
const TARGETS = {
  'linux-x64': { toolchain: null, machine: 62, prefix: '' },
  'linux-arm64': { toolchain: 'host/toolchains/aarch64-linux-gnu.cmake', machine: 183, prefix: 'aarch64-linux-gnu-' },
};

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${res.status}`);
}

/** e_machine of an ELF file (62 x86-64, 183 AArch64), or -1 if it is not ELF. */
function elfMachine(file) {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) return -1;
  return head.readUInt16LE(18);
}

/** The glibc symbol versions a binary needs (GLIBC_2.x), highest last. */
function glibcVersions(file, prefix) {
  const res = spawnSync(`${prefix}objdump`, ['-T', file], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${prefix}objdump -T ${file} failed: ${res.stderr}`);
  const found = new Set(res.stdout.match(/GLIBC_[0-9.]+/g) ?? []);
  return [...found].sort((a, b) => compareVersions(a.slice(6), b.slice(6)));
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function build(target) {
  const spec = TARGETS[target];
  if (spec === undefined) throw new Error(`unknown target ${target}: one of ${Object.keys(TARGETS).join(', ')}`);
  const out = path.join('build', 'prebuild', target);
  const args = [cmakeJs, 'compile', '--directory', 'host', '--out', out, '--parallel', '2'];
  if (spec.toolchain !== null) args.push(`--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, spec.toolchain)}`);
  const started = Date.now();
  run(process.execPath, args);
  const built = path.join(root, out, 'Release', 'percore.node');
  const dest = path.join(root, 'prebuilds', target, 'percore.node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(built, dest);
  run(`${spec.prefix}strip`, ['--strip-unneeded', dest]);
  const machine = elfMachine(dest);
  if (machine !== spec.machine) throw new Error(`${dest}: ELF machine ${machine}, expected ${spec.machine}`);
  const glibc = glibcVersions(dest, spec.prefix);
  const size = fs.statSync(dest).size;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `prebuild ${target}: ${path.relative(root, dest)}, ${size} bytes, needs ${glibc.at(-1) ?? 'no glibc symbol'}, ${seconds} s`,
  );
}

function main() {
  const wanted = (process.argv[2] ?? Object.keys(TARGETS).join(',')).split(',').filter(Boolean);
  for (const target of wanted) build(target);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`prebuild failed: ${err.message}`);
    if (/aarch64-linux-gnu/.test(err.message)) {
      console.error("the arm64 build needs Debian's cross compiler: apt-get install g++-aarch64-linux-gnu");
    }
    process.exit(1);
  }
}

module.exports = { TARGETS, elfMachine, glibcVersions };
