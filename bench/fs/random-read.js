#!/usr/bin/env node
// 4 KiB random reads from one file at queue depth 1, 32 and 128, one thread:
// percore's File.readAt (io_uring, and the epoll driver's blocking pool)
// against node:fs/promises FileHandle.read at the same concurrency. Prints
// IOPS and CPU microseconds per read for each cell. A stub for issue 15's
// benchmark: fio (`--ioengine=io_uring`) and O_DIRECT are the lead's to add.
//
//   npm run build && node bench/fs/random-read.js [--size 1G] [--seconds 3] [--depths 1,32,128]
//
// The file (in os.tmpdir()) is written once and read warm from the page cache.

const fs = require('node:fs');
const fsp = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const { File, Runtime } = require('../../dist/src/index.js');

const BLOCK = 4096;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function bytes(text) {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) throw new Error(`--size: ${text}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

const size = bytes(arg('size', '256M'));
const seconds = Number(arg('seconds', '2'));
const depths = arg('depths', '1,32,128').split(',').map(Number);
const blocks = Math.floor(size / BLOCK);
const file = path.join(os.tmpdir(), `percore-bench-${size}.dat`);

function prepare() {
  if (fs.existsSync(file) && fs.statSync(file).size === size) return;
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  for (let at = 0; at < size; at += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
  fs.closeSync(fd);
  fs.readFileSync(file); // warm the page cache
}

/** Runs `depth` loops of `readOne(buf, position)` for `seconds`; IOPS and CPU µs per read. */
async function cell(depth, makeBuffer, readOne) {
  let reads = 0;
  const end = Date.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: depth }, async () => {
      const buf = makeBuffer();
      while (Date.now() < end) {
        await readOne(buf, Math.floor(Math.random() * blocks) * BLOCK);
        reads++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { iops: Math.round(reads / seconds), cpuPerRead: ((used.user + used.system) / reads).toFixed(2) };
}

async function percore(driver, depth) {
  const rt = new Runtime({ driver });
  Runtime.setCurrent(rt);
  const f = await File.open(file, { runtime: rt });
  const result = await cell(
    depth,
    () => rt.buffer(BLOCK),
    (buf, pos) => f.readAt(buf, pos),
  );
  await f.close();
  rt.close();
  return result;
}

async function node(depth) {
  const handle = await fsp.open(file, 'r');
  const result = await cell(
    depth,
    () => Buffer.alloc(BLOCK),
    (buf, pos) => handle.read(buf, 0, BLOCK, pos),
  );
  await handle.close();
  return result;
}

async function main() {
  prepare();
  console.log(`4 KiB random reads, ${size} B file (warm), ${seconds} s per cell`);
  console.log('| reader | depth | IOPS | CPU µs/read |\n|:--|--:|--:|--:|');
  for (const depth of depths) {
    for (const [name, run] of [
      ['percore io_uring', () => percore('uring', depth)],
      ['percore epoll (pool)', () => percore('epoll', depth)],
      ['node:fs/promises', () => node(depth)],
    ]) {
      const r = await run();
      console.log(`| ${name} | ${depth} | ${r.iops} | ${r.cpuPerRead} |`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
