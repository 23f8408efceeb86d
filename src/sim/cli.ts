#!/usr/bin/env node
/**
 * `percore sim`: runs a scenario for many seeds and stops at the first that
 * fails, saying how to replay it.
 *
 *   npx percore sim [--seed S] [--runs N] [--faults PROFILE] FILE
 *
 * FILE is a module (JavaScript, or compiled TypeScript) whose export
 * `scenario` (or default export) is a function `(world) => …`, as `simulate`
 * takes. Each run prints `seed=S hash=H ok` (or `FAILED` and the error); seeds
 * count up from `--seed` (default 1); `--runs` defaults to 100, `--faults` to
 * `none`. The exit code is 0 when every run passed, 1 at the first failure
 * (after the line that replays it), 2 for bad arguments.
 */
import * as path from 'node:path';
import { FAULT_PROFILES } from './faults';
import { simulate, type World } from './world';

export interface CliOptions {
  seed: number;
  runs: number;
  faults: string;
  file: string;
}

const USAGE = 'usage: percore sim [--seed S] [--runs N] [--faults none|flaky|chaos|swarm] FILE';

/** The options in `args` (what follows `sim`), or a message saying what is wrong. */
export function parseArgs(args: readonly string[]): CliOptions | string {
  const out: CliOptions = { seed: 1, runs: 100, faults: 'none', file: '' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = args[i + 1];
    if (a === '--seed' || a === '--runs') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (a === '--runs' ? 1 : 0)) return `${a} takes a whole number\n${USAGE}`;
      if (a === '--seed') out.seed = n;
      else out.runs = n;
      i++;
    } else if (a === '--faults') {
      if (value === undefined || FAULT_PROFILES[value] === undefined) return `--faults takes a profile\n${USAGE}`;
      out.faults = value;
      i++;
    } else if (a.startsWith('--') || out.file !== '') return `unexpected argument '${a}'\n${USAGE}`;
    else out.file = a;
  }
  return out.file === '' ? USAGE : out;
}

type Scenario = (world: World) => unknown;

function loadScenario(file: string): Scenario {
  const mod = require(path.resolve(file)) as { scenario?: Scenario; default?: Scenario };
  const scenario = mod.scenario ?? mod.default;
  if (typeof scenario !== 'function') throw new TypeError(`${file} exports no function 'scenario' (nor a default one)`);
  return scenario;
}

/** Runs the seeds; resolves with the exit code. `print` gets each line. */
export async function runCli(args: readonly string[], print: (line: string) => void): Promise<number> {
  const options = parseArgs(args);
  if (typeof options === 'string') {
    print(options);
    return 2;
  }
  const scenario = loadScenario(options.file);
  for (let i = 0; i < options.runs; i++) {
    const seed = options.seed + i;
    try {
      const run = await simulate({ seed, faults: options.faults, keepTrace: 20 }, scenario);
      print(`seed=${seed} hash=${run.hash} ok`);
    } catch (err) {
      const hash = (err as { simulation?: { hash: string } }).simulation?.hash ?? '?';
      print(`seed=${seed} hash=${hash} FAILED`);
      print(String((err as Error).stack ?? err));
      print(`replay: npx percore sim --seed ${seed} --runs 1 --faults ${options.faults} ${options.file}`);
      return 1;
    }
  }
  return 0;
}

if (require.main === module) {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'sim') {
    console.log(USAGE);
    process.exitCode = 2;
  } else {
    runCli(rest, (line) => console.log(line)).then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        console.error(err);
        process.exitCode = 2;
      },
    );
  }
}
