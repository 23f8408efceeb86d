// rename, unlink, mkdir, rmdir, symlink, link on both drivers (io_uring's
// *AT ops; the epoll driver's blocking pool): effects checked with node:fs,
// errors Node-style with syscall, path and dest.
import * as fs from 'node:fs';
import { link, mkdir, rename, rmdir, symlink, unlink } from '../../src/index';
import { rejection } from '../support/helpers';
import { fsFixture } from './fixture';

const f = fsFixture('percore-paths-');
const at = (name: string) => f.at(name);

test('mkdir with a mode, then rmdir', async () => {
  await mkdir(at('d'), { mode: 0o700 });
  const st = fs.statSync(at('d'));
  expect(st.isDirectory()).toBe(true);
  expect(st.mode & 0o777).toBe(0o700 & ~process.umask());
  await rmdir(at('d'));
  expect(fs.existsSync(at('d'))).toBe(false);
});

test('mkdir of an existing path is EEXIST; rmdir of a non-empty one ENOTEMPTY, of a file ENOTDIR', async () => {
  fs.mkdirSync(at('full'));
  fs.writeFileSync(at('full/f'), 'x');
  expect(await rejection(mkdir(at('full')))).toMatchObject({ code: 'EEXIST', syscall: 'mkdir', path: at('full') });
  expect(await rejection(rmdir(at('full')))).toMatchObject({ code: 'ENOTEMPTY', syscall: 'rmdir' });
  expect(await rejection(rmdir(at('full/f')))).toMatchObject({ code: 'ENOTDIR', syscall: 'rmdir' });
  expect(await rejection(unlink(at('full')))).toMatchObject({ code: 'EISDIR', syscall: 'unlink' });
});

test('rename moves a file and replaces the target; a missing source is ENOENT with path and dest', async () => {
  fs.writeFileSync(at('a'), 'A');
  fs.writeFileSync(at('b'), 'B');
  await rename(at('a'), at('b'));
  expect(fs.existsSync(at('a'))).toBe(false);
  expect(fs.readFileSync(at('b'), 'utf8')).toBe('A');
  const err = await rejection(rename(at('a'), at('c')));
  expect(err).toMatchObject({ code: 'ENOENT', syscall: 'rename', path: at('a'), dest: at('c') });
  expect(err.message).toContain(`'${at('a')}' -> '${at('c')}'`);
});

test('unlink removes a file; a missing one is ENOENT', async () => {
  fs.writeFileSync(at('gone'), 'x');
  await unlink(at('gone'));
  expect(fs.existsSync(at('gone'))).toBe(false);
  expect(await rejection(unlink(at('gone')))).toMatchObject({ code: 'ENOENT', syscall: 'unlink', path: at('gone') });
});

test('symlink and link', async () => {
  fs.writeFileSync(at('target'), 'T');
  await symlink('target', at('sym'));
  expect(fs.readlinkSync(at('sym'))).toBe('target');
  expect(fs.readFileSync(at('sym'), 'utf8')).toBe('T');
  await link(at('target'), at('hard'));
  expect(fs.statSync(at('hard')).ino).toBe(fs.statSync(at('target')).ino);
  expect(await rejection(link(at('target'), at('hard')))).toMatchObject({ code: 'EEXIST', syscall: 'link' });
  expect(await rejection(symlink('x', at('sym')))).toMatchObject({ code: 'EEXIST', syscall: 'symlink' });
});

test('bad arguments are coded errors, before the kernel', async () => {
  await expect(unlink(1 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(rename(at('a'), 'b\0c')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(mkdir(at('m'), { mode: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(unlink(at('x'.repeat(5000)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
});

test('many at once', async () => {
  const names = Array.from({ length: 40 }, (_, i) => at(`many-${i}`));
  await Promise.all(names.map((n) => mkdir(n)));
  expect(names.every((n) => fs.statSync(n).isDirectory())).toBe(true);
  await Promise.all(names.map((n) => rmdir(n)));
  expect(names.some((n) => fs.existsSync(n))).toBe(false);
});

test('an aborted signal rejects with an AbortError and changes nothing', async () => {
  const ac = new AbortController();
  ac.abort();
  const err = await rejection(mkdir(at('never'), { signal: ac.signal }));
  expect(err.name).toBe('AbortError');
  expect(fs.existsSync(at('never'))).toBe(false);
});
