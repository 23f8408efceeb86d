// Where the addon is loaded from: the source build wins over the prebuild for
// this platform, and with neither (or a file that does not load) the error
// names what was looked for and how to build one. The installed package as a
// whole is proved by `npm run test:package` (docs/PACKAGING.md).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  addonCandidates,
  addonLoadError,
  findAddon,
  isGlibc,
  PREBUILT_TARGETS,
  prebuildPath,
  SOURCE_BUILD,
  targetName,
} from '../../src/package/native';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-native-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function touch(relative: string): string {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  return file;
}

test('targets are named <platform>-<arch>, as prebuilds/ names its folders', () => {
  expect(targetName('linux', 'arm64')).toBe('linux-arm64');
  expect(targetName()).toBe(`${process.platform}-${process.arch}`);
  expect(prebuildPath('linux-x64')).toBe(path.join('prebuilds', 'linux-x64', 'percore.node'));
  expect(PREBUILT_TARGETS).toEqual(['linux-x64', 'linux-arm64']);
});

test('the source build is tried before the prebuild', () => {
  expect(addonCandidates(root)).toEqual([path.join(root, SOURCE_BUILD), path.join(root, prebuildPath())]);
  const prebuilt = touch(prebuildPath());
  expect(findAddon(root)).toBe(prebuilt);
  const built = touch(SOURCE_BUILD);
  expect(findAddon(root)).toBe(built);
});

test('a prebuild for another platform is not taken', () => {
  touch(prebuildPath('linux-riscv64'));
  expect(() => findAddon(root)).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_NOT_BUILT' }));
});

test('with no addon the error says what was looked for and how to build one', () => {
  let err: (Error & { code?: string }) | undefined;
  try {
    findAddon(root);
  } catch (e) {
    err = e as Error & { code?: string };
  }
  expect(err?.code).toBe('ERR_PERCORE_NOT_BUILT');
  expect(err?.message).toContain(path.join(root, SOURCE_BUILD));
  expect(err?.message).toContain(path.join(root, prebuildPath()));
  expect(err?.message).toContain('linux-x64, linux-arm64 (glibc)');
  expect(err?.message).toContain('npm rebuild percore');
});

test('an addon that does not load is named, with the libc and the way out', () => {
  const file = touch(prebuildPath());
  let cause: unknown;
  try {
    require(file);
  } catch (e) {
    cause = e;
  }
  const err = addonLoadError(file, cause) as Error & { code?: string };
  expect(err.code).toBe('ERR_PERCORE_ADDON_LOAD');
  expect(err.cause).toBe(cause);
  expect(err.message).toContain(file);
  expect(err.message).toContain((cause as Error).message);
  expect(err.message).toContain(isGlibc() ? 'libc glibc' : 'not glibc');
  expect(err.message).toContain('--build-from-source');
});

test('this machine runs glibc (the CI image the prebuilds are checked on)', () => {
  expect(isGlibc()).toBe(true);
});
