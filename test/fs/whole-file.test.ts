// readFile / writeFile on both drivers: contents round-trip through pool
// buffers (files larger than one), flags pass through, errors are Node's.
import * as fs from 'node:fs';
import { readFile, writeFile } from '../../src/index';
import { pattern, rejection } from '../support/helpers';
import { fsFixture } from './fixture';

const f = fsFixture('percore-whole-');

test('writeFile then readFile round-trips a file of several pool buffers', async () => {
  const data = pattern(5 * f.rt.bufferSize + 77, 3);
  await writeFile(f.at('big'), data);
  expect(fs.readFileSync(f.at('big')).equals(data)).toBe(true);
  const back = await readFile(f.at('big'));
  expect(back.equals(data)).toBe(true);
});

test('an empty file, a string, and appending with flags: "a"', async () => {
  await writeFile(f.at('empty'), '');
  expect((await readFile(f.at('empty'))).length).toBe(0);
  await writeFile(f.at('text'), 'héllo');
  await writeFile(f.at('text'), ' world', { flags: 'a' });
  expect((await readFile(f.at('text'))).toString('utf8')).toBe('héllo world');
});

test('readFile of a file whose size stat() does not know still returns every byte', async () => {
  // /proc files report size 0 and still have contents.
  const status = await readFile('/proc/self/status');
  expect(status.toString('utf8')).toContain('Name:');
});

test("errors are Node's: ENOENT, EISDIR, EEXIST with 'wx'", async () => {
  expect(await rejection(readFile(f.at('missing')))).toMatchObject({ code: 'ENOENT', path: f.at('missing') });
  expect(await rejection(readFile(f.dir))).toMatchObject({ code: 'EISDIR', syscall: 'read' });
  await writeFile(f.at('once'), 'x');
  expect(await rejection(writeFile(f.at('once'), 'y', { flags: 'wx' }))).toMatchObject({ code: 'EEXIST' });
  await expect(writeFile(f.at('bad'), 42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
});
