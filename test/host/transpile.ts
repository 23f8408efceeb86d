// Worker threads and child processes run plain JavaScript, outside jest's
// transform: this writes JS copies of the fake core (and src/core/layout.ts, which
// it imports) into a temporary directory with the same relative layout.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');

/** Absolute path of the addon, for scripts that load it directly. */
export const ADDON_PATH = path.join(ROOT, 'build', 'host', 'Release', 'percore.node');

let fakeCorePath: string | undefined;

/** Path of a CommonJS build of test/host/fake-core.ts (made once per test file). */
export function fakeCoreJs(): string {
  if (fakeCorePath !== undefined) return fakeCorePath;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-host-'));
  for (const file of ['src/core/layout.ts', 'test/host/fake-core.ts']) {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const target = path.join(out, file.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, js);
  }
  fakeCorePath = path.join(out, 'test', 'host', 'fake-core.js');
  return fakeCorePath;
}
