// Where percore's built files are: found from this file's place, so the same
// code works run from source (src/, under ts-jest) and compiled (dist/src/).
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The package root: the nearest directory above this file that holds package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`percore: no package.json above ${__dirname}`);
    dir = parent;
  }
  root = dir;
  return dir;
}
