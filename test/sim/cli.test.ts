// `percore sim`: many seeds of a scenario, the first failure and the line that
// replays it, the same trace hash in another process.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs, runCli } from '../../src/sim/cli';

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/sim-retry.ts');
const PROXY = path.join(ROOT, 'examples/sim-proxy.ts');

async function cli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCli(args, (line) => lines.push(line));
  return { code, lines };
}

test('arguments: defaults, and a message for what is wrong', () => {
  expect(parseArgs(['f.js'])).toEqual({ seed: 1, runs: 100, faults: 'none', file: 'f.js' });
  expect(parseArgs(['--seed', '7', '--runs', '3', '--faults', 'chaos', 'f.js'])).toEqual({
    seed: 7,
    runs: 3,
    faults: 'chaos',
    file: 'f.js',
  });
  expect(parseArgs([])).toMatch(/^usage/);
  expect(parseArgs(['--runs', '0', 'f.js'])).toMatch(/--runs takes a whole number/);
  expect(parseArgs(['--faults', 'storm', 'f.js'])).toMatch(/--faults takes a profile/);
  expect(parseArgs(['a.js', 'b.js'])).toMatch(/unexpected argument 'b.js'/);
});

test('every seed passing: one line each, exit 0', async () => {
  const { code, lines } = await cli(['--runs', '5', EXAMPLE]);
  expect(code).toBe(0);
  expect(lines).toHaveLength(5);
  for (const [i, line] of lines.entries()) expect(line).toMatch(new RegExp(`^seed=${i + 1} hash=[0-9a-f]{16} ok$`));
});

test('the buggy retry loop is caught, and its seed replays the failure, here and in another process', async () => {
  const first = await cli(['--runs', '300', '--faults', 'flaky', EXAMPLE]);
  expect(first.code).toBe(1);
  const failed = first.lines.find((l) => l.endsWith('FAILED'))!;
  const [, seed, hash] = /^seed=(\d+) hash=([0-9a-f]{16}) FAILED$/.exec(failed)!;
  expect(first.lines.join('\n')).toMatch(/the counter was incremented 2 times, not once/);
  expect(first.lines.at(-1)).toBe(`replay: npx percore sim --seed ${seed} --runs 1 --faults flaky ${EXAMPLE}`);

  const again = await cli(['--seed', seed, '--runs', '1', '--faults', 'flaky', EXAMPLE]);
  expect(again.code).toBe(1);
  expect(again.lines[0]).toBe(failed);

  // The built CLI on the built example, in a process of its own: the same trace.
  const child = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'dist/src/sim/cli.js'),
      'sim',
      '--seed',
      seed,
      '--runs',
      '1',
      '--faults',
      'flaky',
      path.join(ROOT, 'dist/examples/sim-retry.js'),
    ],
    { encoding: 'utf8' },
  );
  expect(child.status).toBe(1);
  expect(child.stdout.split('\n')[0]).toBe(`seed=${seed} hash=${hash} FAILED`);
});

test('the proxy example holds under partitions and chaos: every seed passes', async () => {
  const { code, lines } = await cli(['--runs', '15', '--faults', 'chaos', PROXY]);
  expect(lines.filter((l) => l.endsWith(' ok'))).toHaveLength(15);
  expect(code).toBe(0);
});
