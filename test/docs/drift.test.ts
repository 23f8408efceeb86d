// The docs against the code: the layout version the architecture doc states
// is the one the code speaks, and every repository path the docs name exists.
// A restructure that forgets its docs fails here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAYOUT_VERSION } from '../../src/core/layout';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = [
  'README.md',
  'bench/README.md',
  ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`),
].filter((f) => f.endsWith('.md'));

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

const TOP = '(?:src|host|assembly|test|bench|examples|scripts|docs)';
/** In backticks: `src/io/rent.ts`, `host/`; bare: src/io/rent.ts (a file name with its extension). */
const NAMED = new RegExp(
  `\`(${TOP}/[A-Za-z0-9_./-]*)\`|(?<![\\w/.-])(${TOP}/[A-Za-z0-9_/-]*\\.(?:ts|cc|h|c|js|md|py))\\b`,
  'g',
);

/** Repository paths the markdown names. */
function namedPaths(markdown: string): string[] {
  const found = new Set<string>();
  for (const m of markdown.matchAll(NAMED)) {
    const p = m[1] ?? m[2];
    if (/[*{}]/.test(p) || p.includes('YYYY')) continue; // patterns, not paths
    found.add(p.replace(/[.,:;]$/, ''));
  }
  return [...found];
}

test('namedPaths finds backticked repository paths and skips patterns', () => {
  expect(
    namedPaths(
      'see `src/io/rent.ts`, `host/` and `bench/results/YYYY-MM-DD.md` or `src/**/*.ts` (src/net/tcp-stream.ts)',
    ),
  ).toEqual(['src/io/rent.ts', 'host/', 'src/net/tcp-stream.ts']);
});

test('docs/ARCHITECTURE.md states the layout version the code speaks', () => {
  const doc = read('docs/ARCHITECTURE.md');
  const heading = doc.match(/^## The memory layout \(version (\d+)\)$/m);
  expect(heading).not.toBeNull();
  expect(Number(heading![1])).toBe(LAYOUT_VERSION);
  const row = doc.match(/^\| 4 \| version \| core \| `(\d+)` \|$/m);
  expect(row).not.toBeNull();
  expect(Number(row![1])).toBe(LAYOUT_VERSION);
});

test.each(DOCS)('every repository path %s names exists', (file) => {
  const missing = namedPaths(read(file)).filter((p) => !fs.existsSync(path.join(ROOT, p)));
  expect(missing).toEqual([]);
});
