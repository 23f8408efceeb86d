// Every code example in README.md, docs/ and the TSDoc of src/ compiles under
// --strict and runs. Names an example uses without declaring ("a stream you
// have") are declared in context.d.ts and made real by context.mjs; each
// example runs in a child process of its own, against the built package
// (dist/, as a user gets it), until it finishes or, for a server that runs
// forever, until a deadline after which it is stopped: what fails it is an
// error (a throw, an unhandled rejection, a non-zero exit), never the clock.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { makeCertificate } from '../support/tls';
import { allSnippets, ROOT } from './snippets';

const snippets = allSnippets();

/** percore's value exports: what an example that imports nothing from percore
 * (a fragment in a method's TSDoc) sees, as the module it documents does. */
const EXPORTS = Object.keys(require(path.join(ROOT, 'src', 'index.ts')) as object).filter((n) => n !== '__esModule');

/** The example's code, with percore's exports imported when it imports none itself. */
function withImports(code: string): string {
  if (/from 'percore'/.test(code)) return code;
  return `import { ${EXPORTS.join(', ')} } from 'percore';\n${code}`;
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-doctest-'));
const fileOf = (i: number) => path.join(dir, `snippet-${i}`);

/** How long a example that has not finished may run before it counts as a server and is stopped. */
const RUN_FOR_MS = 2000;

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the docs have code examples, from markdown and from TSDoc', () => {
  expect(snippets.some((s) => s.where.startsWith('README.md:'))).toBe(true);
  expect(snippets.some((s) => s.where.startsWith('src/'))).toBe(true);
});

describe('every example type-checks under --strict', () => {
  let diagnostics: Map<string, string[]>;

  beforeAll(() => {
    const files = snippets.map((s, i) => {
      fs.writeFileSync(`${fileOf(i)}.ts`, `${withImports(s.code)}\nexport {};\n`);
      return `${fileOf(i)}.ts`;
    });
    const program = ts.createProgram([...files, path.join(__dirname, 'context.d.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules/@types')],
      skipLibCheck: true,
      paths: { percore: [path.join(ROOT, 'src/index.ts')] },
    });
    diagnostics = new Map(files.map((f) => [f, []]));
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const list = d.file === undefined ? undefined : diagnostics.get(d.file.fileName);
      if (list === undefined) continue; // src/ itself is type-checked by npm run typecheck
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const added = withImports('') !== '' && !/from 'percore'/.test(snippets[files.indexOf(d.file!.fileName)].code);
      list.push(`line ${line + (added ? 0 : 1)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }, 60_000);

  test.each(snippets.map((s, i) => [s.where, i] as const))('%s', (_where, i) => {
    expect(diagnostics.get(`${fileOf(i)}.ts`)).toEqual([]);
  });
});

describe('every example runs', () => {
  beforeAll(() => {
    // `import … from 'percore'` resolves to this checkout, as an installed package would.
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'percore'), 'dir');
    fs.copyFileSync(path.join(__dirname, 'context.mjs'), path.join(dir, 'context.mjs'));
    makeCertificate(dir); // key.pem and cert.pem, for the TLS examples
    fs.writeFileSync(
      path.join(dir, 'run.mjs'),
      "await import('./context.mjs');\nawait import(process.argv[2]);\nprocess.stdout.write('DOCTEST_DONE\\n');\nprocess.exit(0);\n",
    );
    snippets.forEach((s, i) => {
      const js = ts.transpileModule(withImports(s.code), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      fs.writeFileSync(`${fileOf(i)}.mjs`, js);
    });
  });

  test.each(snippets.map((s, i) => [s.where, i, s] as const))(
    '%s',
    async (_where, i, snippet) => {
      const outcome = await runExample(i, snippet.code); // one at a time: examples bind fixed ports
      expect({ where: snippet.where, ...outcome }).toEqual({ where: snippet.where, error: '' });
    },
    30_000,
  );
});

interface Outcome {
  /** What went wrong, or '' when it finished cleanly or ran until stopped. */
  error: string;
}

/** Runs example `i` in its own node; see the file's comment for what passes. */
function runExample(i: number, code: string): Promise<Outcome> {
  const dist = path.join(ROOT, 'dist', 'src', 'index.js');
  if (!fs.existsSync(dist)) return Promise.resolve({ error: `${dist} is missing: run npm run build:ts` });
  const child = spawn(process.execPath, ['run.mjs', `./snippet-${i}.mjs`], {
    cwd: dir,
    env: {
      ...process.env,
      DOCTEST_PERCORE: `file://${dist}`,
      DOCTEST_KEY: path.join(dir, 'key.pem'),
      DOCTEST_CERT: path.join(dir, 'cert.pem'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => {
    let stopped = false;
    // A server example gets a visitor on each port it names: serving it must not fail.
    const visit = setTimeout(() => visitPorts(code), RUN_FOR_MS / 2);
    const timer = setTimeout(() => {
      stopped = stderrErrors(stderr) === '';
      child.kill('SIGTERM');
    }, RUN_FOR_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(visit);
      const problems = stderrErrors(stderr);
      if (problems !== '') return resolve({ error: problems });
      if (stopped) return resolve({ error: '' }); // a server: it ran without error until stopped
      if (code === 0 && stdout.includes('DOCTEST_DONE')) return resolve({ error: '' });
      resolve({ error: `exited with ${signal ?? code}: ${stderr.trim()}` });
    });
  });
}

/** Connects to each fixed port `code` names, sends a line and waits a moment for an answer. */
function visitPorts(code: string): void {
  for (const [, port] of code.matchAll(/['"\s:]([1-9]\d{3,4})\b/g)) {
    // Several: SO_REUSEPORT spreads connections over the threads of a start() example.
    for (let i = 0; i < 8; i++) {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('ping\n'));
      socket.on('error', () => {});
      socket.setTimeout(RUN_FOR_MS / 4, () => socket.destroy());
      socket.on('data', () => socket.end());
    }
  }
}

/** The errors in a child's stderr (Node's experimental-feature warnings are not). */
function stderrErrors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/ExperimentalWarning|--trace-warnings/.test(l))
    .join('\n');
}
