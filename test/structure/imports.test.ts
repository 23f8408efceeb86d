// The structure of the source trees: no import cycles, no oversized files.
//
// Every relative import of every .ts file under src/ and assembly/ counts:
// `import … from './x'`, `import type … from './x'`, `export … from './x'`,
// side-effect `import './x'`, and `import('./x')` / `require('./x')` with a
// literal path. A cycle makes a module's meaning depend on load order and
// says two files hold one idea between them: each tree must be a DAG.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const MAX_LINES = 600;

/** Every file under `dir` (relative to the repository) whose name ends in one of `exts`. */
function filesUnder(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = path.join(abs, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (exts.some((ext) => entry.name.endsWith(ext))) out.push(child);
    }
  };
  walk(path.join(ROOT, dir));
  return out.sort();
}

const IMPORT_PATTERNS: readonly RegExp[] = [
  // import x from '…', import type { x } from '…', export { x } from '…', export * from '…'
  /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  // import '…' (side effects only)
  /\bimport\s*['"]([^'"]+)['"]/g,
  // import('…'), require('…')
  /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The relative module specifiers a source text imports, in order of appearance, without duplicates. */
function relativeImports(source: string): string[] {
  // Comments could mention `import … from './x'`: strip them first (strings
  // holding `//` or `/*` are not a concern for this code base's imports).
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1');
  const found: Array<{ at: number; spec: string }> = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) found.push({ at: match.index ?? 0, spec: match[1] });
  }
  found.sort((a, b) => a.at - b.at);
  const specs = found.map((f) => f.spec).filter((spec) => spec.startsWith('./') || spec.startsWith('../'));
  return [...new Set(specs)];
}

/** The .ts file a relative specifier names from `fromFile`, or undefined (a .node, .json, … or a missing file). */
function resolveTs(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  const stem = base.replace(/\.(js|ts)$/, '');
  for (const candidate of [`${stem}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

type Graph = Map<string, string[]>;

/** The import graph of every .ts file under `dir`: edges to .ts files inside the same tree only. */
function importGraph(dir: string): Graph {
  const files = filesUnder(dir, ['.ts']);
  const inTree = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const targets = relativeImports(fs.readFileSync(file, 'utf8'))
      .map((spec) => resolveTs(file, spec))
      .filter((target): target is string => target !== undefined && inTree.has(target));
    graph.set(
      path.relative(ROOT, file),
      [...new Set(targets)].map((t) => path.relative(ROOT, t)),
    );
  }
  return graph;
}

interface Cycle {
  /** A strongly connected component: every file in it reaches every other. */
  component: string[];
  /** One concrete cycle through it, `a → b → … → a`. */
  path: string[];
}

/**
 * The graph's cycles, one per strongly connected component with more than one
 * node (or a node importing itself), found by Tarjan's algorithm, each with a
 * shortest path through its component back to the component's first node.
 */
function findCycles(graph: Graph): Cycle[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const edges = (node: string): string[] => graph.get(node) ?? [];

  const connect = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of edges(node)) {
      if (!index.has(target)) {
        connect(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || edges(node).includes(node)) components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node);

  // One concrete cycle per component: a shortest way back to its first node.
  return components.map((component) => {
    const members = new Set(component);
    const start = component[0];
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const target of edges(node)) {
        if (!members.has(target)) continue;
        if (target === start) {
          const cycle = [start];
          for (let at = node; at !== start; at = cameFrom.get(at)!) cycle.splice(1, 0, at);
          return { component, path: [...cycle, start] };
        }
        if (!cameFrom.has(target)) {
          cameFrom.set(target, node);
          queue.push(target);
        }
      }
    }
    throw new Error(`no cycle through ${start}, although it is in a component`);
  });
}

function report(cycles: Cycle[]): string {
  return cycles
    .map(
      ({ component, path: cycle }) =>
        `cycle: ${cycle.join(' → ')}\n  its component (${component.length} files): ${component.join(', ')}`,
    )
    .join('\n');
}

describe('the cycle finder', () => {
  test('finds a planted cycle, and none in a DAG', () => {
    const dag: Graph = new Map([
      ['a', ['b', 'c']],
      ['b', ['c']],
      ['c', []],
    ]);
    expect(findCycles(dag)).toEqual([]);
    const planted: Graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'x']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
      ['x', ['b']],
    ]);
    expect(findCycles(planted)).toEqual([
      { component: ['a', 'b', 'c', 'x'], path: ['a', 'b', 'c', 'a'] },
      { component: ['e'], path: ['e', 'e'] },
    ]);
  });

  test('reads every kind of relative import and nothing in comments', () => {
    const source = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      'import {\n  c,\n  d,\n} from "./cd";',
      "export { e } from './e';",
      "export * from './f';",
      "import './g';",
      "const h = require('./h');",
      "const i = import('./i');",
      "import * as fs from 'node:fs';",
      "// import { no } from './commented';",
      "/* export { no } from './block'; */",
    ].join('\n');
    expect(relativeImports(source)).toEqual(['./a', '../b', './cd', './e', './f', './g', './h', './i']);
  });
});

describe('import cycles', () => {
  for (const tree of ['assembly', 'src']) {
    test(`${tree}/ has none`, () => {
      const graph = importGraph(tree);
      expect(graph.size).toBeGreaterThan(5); // the walk found the tree
      const cycles = findCycles(graph);
      if (cycles.length > 0) throw new Error(`${tree}/ has ${cycles.length} import cycle(s):\n${report(cycles)}`);
    });
  }
});

describe('file size', () => {
  test(`no source file under src/, assembly/ or host/ is over ${MAX_LINES} lines`, () => {
    const files = [
      ...filesUnder('src', ['.ts']),
      ...filesUnder('assembly', ['.ts']),
      ...filesUnder('host', ['.cc', '.h']),
    ];
    expect(files.length).toBeGreaterThan(10);
    const over = files
      .map((file) => ({ file: path.relative(ROOT, file), lines: fs.readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(over).toEqual([]);
  });
});

// ---- the import rules of docs/ARCHITECTURE.md ("Where things are") ----

/** The folder of src/ (or the top-level file) a file of src/ belongs to. */
function srcArea(file: string): string {
  const parts = path.relative('src', file).split(path.sep);
  return parts[0];
}

/** What each area of src/ may import besides itself. */
const SRC_RULES: Record<string, readonly string[]> = {
  errors: [],
  package: [],
  types: [],
  core: ['package'],
  driver: ['errors', 'package'],
  runtime: ['errors', 'core', 'driver'],
  io: ['errors', 'core', 'runtime'],
  net: ['errors', 'core', 'runtime', 'io'],
  fs: ['errors', 'core', 'runtime', 'io'],
  channel: ['errors', 'driver', 'runtime'],
  threads: ['errors', 'driver', 'http', 'package', 'runtime', 'net', 'api.ts'],
  bridge: ['errors', 'io', 'runtime'],
  http: ['bridge', 'errors', 'io', 'net', 'runtime'],
  sim: ['errors', 'core', 'driver', 'runtime'],
  'api.ts': ['bridge', 'channel', 'errors', 'fs', 'http', 'io', 'net', 'runtime', 'sim', 'threads'],
  'index.ts': ['api.ts', 'threads'],
};

/** What each folder of host/ may include besides itself ('.' is host/'s own files). */
const HOST_RULES: Record<string, readonly string[]> = {
  '.': [],
  tools: [],
  threads: ['.'],
  drivers: ['.', 'threads'],
  'drivers/uring': ['.', 'threads', 'drivers'],
  'drivers/readiness': ['.', 'threads', 'drivers'],
  napi: ['.', 'threads', 'drivers', 'drivers/uring', 'drivers/readiness'],
};

/** The imports that break `rules`: `from → to` for every edge between areas the rules do not allow. */
function ruleBreaks(edges: Array<[string, string]>, rules: Record<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [from, to] of edges) {
    const allowed = rules[from];
    if (allowed === undefined) out.push(`${from} has no rule: add its row to docs/ARCHITECTURE.md and to this test`);
    else if (from !== to && !allowed.includes(to)) out.push(`${from} → ${to}`);
  }
  return [...new Set(out)].sort();
}

/** `#include "…"` edges between folders of host/, as [from, to] pairs. */
function hostIncludeEdges(): Array<[string, string]> {
  const folderOf = (rel: string): string => {
    const dir = path.dirname(rel);
    return dir === '.' ? '.' : dir;
  };
  const edges: Array<[string, string]> = [];
  for (const file of filesUnder('host', ['.cc', '.h', '.c'])) {
    const rel = path.relative(path.join(ROOT, 'host'), file);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/^#include "([^"]+)"/gm)) {
      if (!fs.existsSync(path.join(ROOT, 'host', m[1]))) continue; // a system header in quotes
      edges.push([folderOf(rel), folderOf(m[1])]);
    }
  }
  return edges;
}

describe('import rules (docs/ARCHITECTURE.md)', () => {
  test('the rule checker reports an edge no rule allows, and an area with no rule', () => {
    const rules = { a: ['b'], b: [] };
    expect(
      ruleBreaks(
        [
          ['a', 'b'],
          ['a', 'a'],
          ['b', 'a'],
          ['c', 'a'],
        ],
        rules,
      ),
    ).toEqual(['b → a', 'c has no rule: add its row to docs/ARCHITECTURE.md and to this test']);
  });

  test('src/: each folder imports only the folders its row names', () => {
    const graph = importGraph('src');
    const edges: Array<[string, string]> = [];
    for (const [from, targets] of graph) for (const to of targets) edges.push([srcArea(from), srcArea(to)]);
    expect(edges.length).toBeGreaterThan(20);
    expect(ruleBreaks(edges, SRC_RULES)).toEqual([]);
  });

  test('host/: each folder includes only the folders its row names', () => {
    const edges = hostIncludeEdges();
    expect(edges.length).toBeGreaterThan(20);
    expect(ruleBreaks(edges, HOST_RULES)).toEqual([]);
  });

  test('assembly/ imports nothing from outside itself', () => {
    const outside = filesUnder('assembly', ['.ts']).flatMap((file) =>
      relativeImports(fs.readFileSync(file, 'utf8'))
        .filter((spec) => !path.resolve(path.dirname(file), spec).startsWith(path.join(ROOT, 'assembly')))
        .map((spec) => `${path.relative(ROOT, file)} → ${spec}`),
    );
    expect(outside).toEqual([]);
  });
});
