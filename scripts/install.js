#!/usr/bin/env node
// The package's `install` script.
//
// In a clone (assembly/ is there) it builds everything: the core, the addon,
// the TypeScript (`npm run build`). In an installed package (dist/ and the
// core's .wasm ship built; see package.json "files") only the addon may need
// building: the prebuilt one for this platform and CPU is tried first (loaded
// once, so a binary that exists but cannot load, e.g. on musl, is caught
// here and not at the user's first import); when none fits, or when asked
// (`npm install --build-from-source`, or PERCORE_BUILD_FROM_SOURCE=1), the
// addon is built from host/ with cmake-js. Before that build, the tools it
// needs are looked for, and a missing one is named with how to get it;
// cmake-js and node-addon-api themselves are fetched then, since an install
// that takes a prebuild needs neither (they are devDependencies).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function log(message) {
  console.log(`percore: ${message}`);
}

/** Whether `name` is an executable file in a PATH folder. */
function onPath(name) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What a source build of the addon lacks on this machine, each with its remedy. */
function missingTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake (Debian/Ubuntu: apt-get install cmake)');
  const cxx = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  if (!cxx.some(onPath)) missing.push(`a C++ compiler, one of ${cxx.join(', ')} (apt-get install g++)`);
  if (!onPath('make') && !onPath('ninja')) missing.push('make or ninja (apt-get install make)');
  const include = path.resolve(process.execPath, '../../include/node');
  if (!fs.existsSync(path.join(include, 'uv.h'))) {
    missing.push(`Node's headers (uv.h in ${include}): a Node install that ships include/node`);
  }
  return missing;
}

/** Runs npm (the one running this script when it is npm, not yarn or pnpm) in `cwd`; true when it succeeded. */
function npm(args, cwd) {
  const cli = process.env.npm_execpath;
  const res =
    cli && /npm/.test(path.basename(cli))
      ? spawnSync(process.execPath, [cli, ...args], { cwd, stdio: 'inherit' })
      : spawnSync('npm', args, { cwd, stdio: 'inherit' });
  return res.status === 0;
}

/** The prebuilt addon for this process, if it exists and loads; logs why not. */
function usablePrebuild(native) {
  const file = path.join(root, native.prebuildPath());
  if (!fs.existsSync(file)) {
    log(`no prebuilt addon for ${native.targetName()} (prebuilt: ${native.PREBUILT_TARGETS.join(', ')}, glibc)`);
    return false;
  }
  try {
    require(file);
  } catch (err) {
    log(`the prebuilt addon ${path.relative(root, file)} does not load here (${err.message.split('\n')[0]})`);
    if (!native.isGlibc()) log('this system is not glibc; the prebuilds are built for glibc');
    return false;
  }
  log(`using the prebuilt addon ${path.relative(root, file)}`);
  return true;
}

/** The JavaScript half of the build: cmake-js and node-addon-api, which an
 * installed package does not depend on (a prebuild needs neither). Resolved
 * where a clone has them (devDependencies); otherwise fetched once, at the
 * versions devDependencies names, into build/source-tools. Returns the
 * cmake-js entry and the env that lets host/CMakeLists.txt find
 * node-addon-api, or null (logged) if they cannot be had. */
function sourceBuildTools() {
  const names = ['cmake-js', 'node-addon-api'];
  try {
    for (const name of names) require.resolve(`${name}/package.json`, { paths: [root] });
    return { cmakeJs: require.resolve('cmake-js/bin/cmake-js', { paths: [root] }), env: process.env };
  } catch {
    // not installed: fetch below
  }
  const prefix = path.join(root, 'build', 'source-tools');
  const modules = path.join(prefix, 'node_modules');
  const wanted = names.map((name) => `${name}@${require(path.join(root, 'package.json')).devDependencies[name]}`);
  if (!fs.existsSync(path.join(modules, 'cmake-js'))) {
    log(`fetching ${wanted.join(' and ')} for the source build into ${path.relative(root, prefix)}`);
    fs.mkdirSync(prefix, { recursive: true });
    fs.writeFileSync(path.join(prefix, 'package.json'), '{"private":true}\n');
    const args = ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts'];
    const fetched = npm([...args, ...wanted], prefix);
    if (!fetched) {
      console.error(`percore: could not fetch ${wanted.join(' and ')}, which the source build needs (output above).`);
      return null;
    }
  }
  const nodePath = [modules, process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  return { cmakeJs: path.join(modules, 'cmake-js', 'bin', 'cmake-js'), env: { ...process.env, NODE_PATH: nodePath } };
}

function buildAddonFromSource() {
  const missing = missingTools();
  if (missing.length > 0) {
    console.error('percore: building the native addon from source needs, and this machine lacks:');
    for (const item of missing) console.error(`  - ${item}`);
    console.error('percore: install them and run `npm rebuild percore`.');
    return false;
  }
  const tools = sourceBuildTools();
  if (tools === null) return false;
  log('building the native addon from source (cmake-js, host/)');
  const args = [tools.cmakeJs, 'compile', '--directory', 'host', '--out', path.join('build', 'host')];
  const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: tools.env });
  if (res.status === 0) return true;
  console.error('percore: the source build of the native addon failed (output above).');
  return false;
}

function main() {
  if (fs.existsSync(path.join(root, 'assembly', 'index.ts'))) {
    // A clone: the whole build, as `npm run build` does it.
    return npm(['run', 'build'], root);
  }
  const native = require(path.join(root, 'dist', 'src', 'package', 'native.js'));
  const env = process.env;
  const forced = env.npm_config_build_from_source === 'true' || env.PERCORE_BUILD_FROM_SOURCE === '1';
  if (forced) log('building from source, as asked');
  else if (usablePrebuild(native)) return true;
  return buildAddonFromSource();
}

process.exitCode = main() ? 0 : 1;
