// What every file test shares: a runtime, a temporary directory removed at the
// end, and the leak check after each test.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Runtime } from '../../src/index';
import { expectClean, makeRuntime } from '../support/helpers';

export interface FsFixture {
  /** The test file's runtime (a test may replace it). */
  rt: Runtime;
  dir: string;
  /** `name` inside `dir`. */
  at(name: string): string;
}

/** Registers the hooks; the fixture is filled in by `beforeAll`. */
export function fsFixture(prefix: string): FsFixture {
  const f: FsFixture = { rt: undefined as unknown as Runtime, dir: '', at: (name) => path.join(f.dir, name) };
  beforeAll(() => {
    f.rt = makeRuntime();
    f.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => {
    f.rt.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  });
  afterEach(() => expectClean(f.rt));
  return f;
}
