// File on both drivers (io_uring's ring ops; epoll's blocking pool): open
// flags, positioned rent-style reads and writes, sync, stat, close, and
// Node's error codes. Every scenario ends with the runtime holding nothing.
import * as fs from 'node:fs';
import { File, type PercoreError, timeout } from '../../src/index';
import { makeRuntime, pattern, rejection } from '../support/helpers';
import { fsFixture } from './fixture';

const f = fsFixture('percore-fs-');
const at = (name: string) => f.at(name);

test('writeAllAt then readExactAt round-trips bytes at positions, through plain arrays and pool buffers', async () => {
  const file = await File.open(at('round'), { flags: 'w+' });
  const data = pattern(3 * f.rt.bufferSize + 123); // more than one pool buffer: resubmits
  const [w, back] = await file.writeAllAt(data, 10);
  expect(w).toBe(data.length);
  expect(back).toBe(data);
  const into = Buffer.alloc(data.length);
  const [r] = await file.readExactAt(into, 10);
  expect(r).toBe(data.length);
  expect(into.equals(data)).toBe(true);
  // A pool buffer is lent as it is.
  const pooled = f.rt.buffer(64);
  const [n, same] = await file.readAt(pooled, 10);
  expect(n).toBe(64);
  expect(same).toBe(pooled);
  expect(Buffer.from(pooled).equals(data.subarray(0, 64))).toBe(true);
  f.rt.release(pooled);
  await file.close();
  expect(fs.readFileSync(at('round')).subarray(10).equals(data)).toBe(true);
});

test('readAt returns 0 at the end of the file; readExactAt past it rejects with bytesRead and the buffer', async () => {
  fs.writeFileSync(at('short'), 'abc');
  const file = await File.open(at('short'));
  const [n] = await file.readAt(Buffer.alloc(8), 3);
  expect(n).toBe(0);
  const buf = Buffer.alloc(8);
  const err = await rejection(file.readExactAt(buf, 1));
  expect(err.code).toBe('ERR_STREAM_PREMATURE_CLOSE');
  expect(err.bytesRead).toBe(2);
  expect(err.buffer).toBe(buf);
  await file.close();
});

test('many reads in flight at once each get their own position', async () => {
  const data = pattern(64 * 1024, 7);
  fs.writeFileSync(at('many'), data);
  const file = await File.open(at('many'));
  const reads = Array.from({ length: 32 }, (_, i) => file.readExactAt(Buffer.alloc(2048), i * 2048));
  const results = await Promise.all(reads);
  results.forEach(([n, buf], i) => {
    expect(n).toBe(2048);
    expect(Buffer.from(buf).equals(data.subarray(i * 2048, (i + 1) * 2048))).toBe(true);
  });
  await file.close();
});

test("Node's flags: 'wx' refuses an existing file, 'a' appends, 'r' cannot write, 'w' truncates", async () => {
  fs.writeFileSync(at('exists'), 'old contents');
  const exists = await rejection(File.open(at('exists'), { flags: 'wx' }));
  expect(exists.code).toBe('EEXIST');
  expect(exists.syscall).toBe('open');
  expect(exists.path).toBe(at('exists'));

  const log = await File.open(at('exists'), { flags: 'a' });
  await log.writeAllAt(Buffer.from('+more'), 0); // O_APPEND: the position is ignored
  await log.close();
  expect(fs.readFileSync(at('exists'), 'utf8')).toBe('old contents+more');

  const ro = await File.open(at('exists'));
  const notWritable = await rejection(ro.writeAt(Buffer.from('x'), 0));
  expect(notWritable.code).toBe('EBADF');
  expect(notWritable.syscall).toBe('write');
  await ro.close();

  const created = await File.create(at('exists'));
  await created.close();
  expect(fs.statSync(at('exists')).size).toBe(0);
});

test('errors are Node-style: ENOENT and EISDIR with path and syscall, bad flags refused before the kernel', async () => {
  const missing = await rejection(File.open(at('nope/none')));
  expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: at('nope/none') });
  expect(missing.message).toContain('ENOENT');
  const isDir = await rejection(File.open(f.dir, { flags: 'r+' }));
  expect(isDir.code).toBe('EISDIR');
  await expect(File.open(at('x'), { flags: 'rw' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(File.open(at('x'), { mode: 0o10000 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(File.open(`${at('x')}\0y`)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(File.open(at('x'.repeat(5000)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
});

test('mode applies to a created file (under the umask)', async () => {
  const file = await File.open(at('private'), { flags: 'wx', mode: 0o600 });
  const st = await file.stat();
  expect(st.mode & 0o777).toBe(0o600 & ~process.umask());
  await file.close();
});

test('stat() agrees with node:fs', async () => {
  fs.writeFileSync(at('stat'), pattern(12345));
  const file = await File.open(at('stat'));
  const st = await file.stat();
  const node = fs.statSync(at('stat'));
  expect(st.isFile()).toBe(true);
  expect(st.isDirectory()).toBe(false);
  expect(st.size).toBe(12345);
  expect(st.ino).toBe(node.ino);
  expect(st.dev).toBe(node.dev);
  expect(st.nlink).toBe(node.nlink);
  expect(st.uid).toBe(node.uid);
  expect(Math.abs(st.mtimeMs - node.mtimeMs)).toBeLessThan(1);
  expect(st.mtime.getTime()).toBe(Math.floor(st.mtimeMs));
  expect(Math.abs(st.ctimeMs - node.ctimeMs)).toBeLessThan(1);
  expect(Math.abs(st.atimeMs - node.atimeMs)).toBeLessThan(1);
  expect(st.isFIFO()).toBe(false);
  await file.close();
});

test('sync() and datasync() complete on a written file', async () => {
  const file = await File.open(at('synced'), { flags: 'w' });
  await file.writeAllAt(Buffer.from('durable'), 0);
  await expect(file.sync()).resolves.toBeUndefined();
  await expect(file.datasync()).resolves.toBeUndefined();
  await file.close();
  expect(fs.readFileSync(at('synced'), 'utf8')).toBe('durable');
});

test('after close() every operation rejects with EBADF, and the descriptor is gone', async () => {
  const file = await File.open(at('closed'), { flags: 'w+' });
  expect(f.rt.counters().openFds).toBe(1);
  await file.close();
  expect(f.rt.counters().openFds).toBe(0);
  const buf = Buffer.alloc(4);
  const read = await rejection(file.readAt(buf, 0));
  expect(read).toMatchObject({ code: 'EBADF', syscall: 'read' });
  expect(read.buffer).toBe(buf);
  await expect(file.writeAt(buf, 0)).rejects.toMatchObject({ code: 'EBADF', syscall: 'write' });
  await expect(file.sync()).rejects.toMatchObject({ code: 'EBADF', syscall: 'fsync' });
  await expect(file.stat()).rejects.toMatchObject({ code: 'EBADF', syscall: 'stat' });
  expect(file.close()).toBe(file.close()); // the same promise
});

test('close() with reads in flight settles each one, with its buffer, and closes once they are done', async () => {
  fs.writeFileSync(at('busy'), pattern(256 * 1024));
  const file = await File.open(at('busy'));
  const bufs = Array.from({ length: 16 }, () => Buffer.alloc(16 * 1024));
  const reads = bufs.map((b, i) => file.readExactAt(b, i * 16 * 1024));
  const all = Promise.allSettled(reads);
  await file.close();
  const settled = await all;
  settled.forEach((s, i) => {
    // Either its bytes arrived first, or it was cancelled: never lost, never another code.
    if (s.status === 'fulfilled') expect(s.value[1]).toBe(bufs[i]);
    else expect(s.reason).toMatchObject({ code: 'EBADF', buffer: bufs[i] });
  });
});

test('an aborted read rejects with an AbortError and its buffer', async () => {
  fs.writeFileSync(at('abort'), pattern(1024));
  const file = await File.open(at('abort'));
  const ac = new AbortController();
  ac.abort();
  const buf = Buffer.alloc(16);
  const err = await rejection(file.readAt(buf, 0, { signal: ac.signal }));
  expect(err.name).toBe('AbortError');
  expect(err.buffer).toBe(buf);
  await file.close();
});

test('argument errors are coded and carry the buffer', async () => {
  const file = await File.open(at('args'), { flags: 'w+' });
  const buf = Buffer.alloc(4);
  await expect(file.readAt(buf, -1)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', buffer: buf });
  await expect(file.readAt(buf, 0.5)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(file.readAt(buf, 0, 5)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(file.readAt('x' as unknown as Uint8Array, 0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await file.close();
});

test('a closed runtime closes the files it opened', async () => {
  const own = makeRuntime();
  const file = await File.open(at('owned'), { flags: 'w', runtime: own });
  expect(own.counters().openFds).toBe(1);
  own.close();
  await expect(file.readAt(Buffer.alloc(1), 0)).rejects.toMatchObject({ code: 'ERR_PERCORE_RUNTIME_CLOSED' });
  makeRuntime().close();
  f.rt = makeRuntime();
});

test('fallocate grows the file, keepSize does not, punchHole frees a range and reads back zeros', async () => {
  const file = await File.open(at('alloc'), { flags: 'w+' });
  await file.fallocate(0, 64 * 1024);
  expect((await file.stat()).size).toBe(64 * 1024);
  await file.fallocate(64 * 1024, 64 * 1024, { keepSize: true });
  expect((await file.stat()).size).toBe(64 * 1024);
  await file.writeAllAt(Buffer.alloc(8192, 0xab), 0);
  await file.fallocate(0, 4096, { keepSize: true, punchHole: true });
  const [, back] = await file.readExactAt(Buffer.alloc(8192), 0);
  expect(back.subarray(0, 4096).every((b) => b === 0)).toBe(true);
  expect(back.subarray(4096).every((b) => b === 0xab)).toBe(true);
  await expect(file.fallocate(0, 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(file.fallocate(0, 4096, { punchHole: true })).rejects.toMatchObject({ syscall: 'fallocate' });
  await file.close();
  await expect(file.fallocate(0, 1)).rejects.toMatchObject({ code: 'EBADF', syscall: 'fallocate' });
});

test('timeout() cancels an open in the kernel: it rejects with ETIMEDOUT or resolves with the file, never leaks it', async () => {
  fs.writeFileSync(at('raced'), 'x');
  const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => timeout(0, File.open(at('raced')))));
  for (const o of outcomes) {
    if (o.status === 'fulfilled') await o.value.close();
    else expect(o.reason).toMatchObject({ code: 'ETIMEDOUT' });
  }
  // expectClean (afterEach): no fd left open by an open that lost the race.
});

test('an aborted writeAllAt loses nothing: what it reports written is exactly what the file holds', async () => {
  const file = await File.open(at('aborted-write'), { flags: 'w+' });
  const data = pattern(64 * f.rt.bufferSize, 9); // 64 pool-buffer writes, one after another
  const ac = new AbortController();
  const write = file.writeAllAt(data, 0, { signal: ac.signal });
  queueMicrotask(() => ac.abort()); // while the first piece is in the kernel
  let written: number;
  try {
    [written] = await write;
  } catch (err) {
    const e = err as PercoreError & { bytesWritten?: number };
    expect(e.name).toBe('AbortError');
    expect(e.buffer).toBe(data);
    written = e.bytesWritten ?? -1;
  }
  expect(written).toBeGreaterThanOrEqual(0);
  expect(written).toBeLessThan(data.length);
  await file.close();
  const onDisk = fs.readFileSync(at('aborted-write'));
  expect(onDisk.length).toBe(written);
  expect(onDisk.equals(data.subarray(0, written))).toBe(true);
});
