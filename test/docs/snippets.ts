// Code examples in the docs, found where a reader finds them: ```ts blocks
// in README.md and docs/*.md, and ``` blocks in the TSDoc of src/.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export interface Snippet {
  /** Where it is, e.g. `README.md:42` (the line of the opening fence). */
  where: string;
  code: string;
}

const FENCE = /^```(ts|typescript)\s*$/;

/** ```ts blocks of a markdown file. */
export function markdownSnippets(file: string, text: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
    out.push({ where: `${file}:${start + 1}`, code: body.join('\n') });
  }
  return out;
}

/** ```ts (or bare ```) blocks inside the /** *\/ comments of a TypeScript file. */
export function tsdocSnippets(file: string, text: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*```(ts)?\s*$/.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*\*\s*```/.test(lines[i]); i++) body.push(lines[i].replace(/^\s*\* ?/, ''));
    out.push({ where: `${file}:${start + 1}`, code: body.join('\n') });
  }
  return out;
}

function walk(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    return e.isDirectory() ? walk(rel) : [rel];
  });
}

/** Every code example of the project's docs. */
export function allSnippets(): Snippet[] {
  const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
  const markdown = ['README.md', ...walk('docs').filter((f) => f.endsWith('.md'))];
  const sources = walk('src').filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  return [
    ...markdown.flatMap((f) => markdownSnippets(f, read(f))),
    ...sources.flatMap((f) => tsdocSnippets(f, read(f))),
  ];
}
