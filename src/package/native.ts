// Where the native addon is: a source build (build/host/Release, made by
// `npm run build:host` or by the install script's fallback) wins over the
// prebuilt binary the package ships for this platform and CPU
// (prebuilds/<platform>-<arch>/percore.node), so a developer's rebuild is
// never shadowed by a stale prebuild. The order is node-gyp-build's; its
// loader is not used because it looks in build/Release (cmake-js builds into
// build/host/Release here) and its install step runs node-gyp, not cmake-js.
// The install script (scripts/install.js) asks the same questions, so install
// time and load time agree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './root';

/** The platforms a prebuilt addon is made for (scripts/prebuild.js), all glibc. */
export const PREBUILT_TARGETS: readonly string[] = ['linux-x64', 'linux-arm64'];

/** The source build's output, relative to the package root. */
export const SOURCE_BUILD = path.join('build', 'host', 'Release', 'percore.node');

/** `<platform>-<arch>` of the running process, as prebuilds/ names its folders. */
export function targetName(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** The prebuilt addon for `target`, relative to the package root. */
export function prebuildPath(target: string = targetName()): string {
  return path.join('prebuilds', target, 'percore.node');
}

/** Whether this process runs on glibc (the prebuilds' libc), from Node's own report. */
export function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/** Absolute candidates, in the order they are tried: the source build, then this target's prebuild. */
export function addonCandidates(root: string = packageRoot()): string[] {
  return [path.join(root, SOURCE_BUILD), path.join(root, prebuildPath())];
}

/**
 * The addon file to load: the first candidate that exists. Throws an Error
 * with code `ERR_PERCORE_NOT_BUILT` naming what was looked for, and how to
 * build one, when there is none.
 */
export function findAddon(root: string = packageRoot()): string {
  const candidates = addonCandidates(root);
  const found = candidates.find((file) => fs.existsSync(file));
  if (found !== undefined) return found;
  const err = new Error(
    `percore: no native addon for ${targetName()} (looked for ${candidates.join(' and ')}). ` +
      `Prebuilt: ${PREBUILT_TARGETS.join(', ')} (glibc). ` +
      'Build one from source with `npm rebuild percore` (needs cmake, make or ninja, and a C++ compiler).',
  ) as Error & { code: string };
  err.code = 'ERR_PERCORE_NOT_BUILT';
  throw err;
}

/**
 * The error for an addon file that exists but does not load (`dlopen` refused
 * it: another libc, an older glibc than the prebuild needs, a truncated file):
 * code `ERR_PERCORE_ADDON_LOAD`, the loader's message, and the way out.
 */
export function addonLoadError(file: string, cause: unknown): Error {
  const libc = isGlibc() ? 'glibc' : 'not glibc (the prebuilds need glibc)';
  const why = cause instanceof Error ? cause.message : String(cause);
  const err = new Error(
    `percore: the native addon ${file} does not load on ${targetName()}, libc ${libc}: ${why}. ` +
      'Build one from source with `npm rebuild percore --build-from-source` (needs cmake, make or ninja, and a C++ compiler).',
    { cause },
  ) as Error & { code: string };
  err.code = 'ERR_PERCORE_ADDON_LOAD';
  return err;
}
