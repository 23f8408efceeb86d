// What `File.stat()` resolves with: the fields of Linux's struct statx the
// host filled, decoded once into plain numbers and Dates (Node's fs.Stats
// names, so code written against node:fs reads the same).
import * as L from '../core/layout';

const S_IFMT = 0o170000;

/** A file's metadata, from statx(2). */
export class FileStat {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  /** O_DIRECT's required memory alignment, from statx (0: the kernel did not say). */
  readonly directMemoryAlign: number;
  /** O_DIRECT's required file offset and length alignment (0: not said). */
  readonly directOffsetAlign: number;

  /** @internal decodes STATX_SIZE bytes the host wrote. */
  constructor(record: Uint8Array) {
    const v = new DataView(record.buffer, record.byteOffset, L.STATX_SIZE);
    const u64 = (at: number): number => Number(v.getBigUint64(at, true));
    const ms = (at: number): number => Number(v.getBigInt64(at, true)) * 1000 + v.getUint32(at + 8, true) / 1e6;
    this.dev = makedev(v.getUint32(L.STATX_DEV_MAJOR, true), v.getUint32(L.STATX_DEV_MAJOR + 4, true));
    this.ino = u64(L.STATX_INO);
    this.mode = v.getUint16(L.STATX_MODE, true);
    this.nlink = v.getUint32(L.STATX_NLINK, true);
    this.uid = v.getUint32(L.STATX_UID, true);
    this.gid = v.getUint32(L.STATX_GID, true);
    this.size = u64(L.STATX_SIZE_FIELD);
    this.blksize = v.getUint32(L.STATX_BLKSIZE, true);
    this.blocks = u64(L.STATX_BLOCKS);
    this.atimeMs = ms(L.STATX_ATIME);
    this.mtimeMs = ms(L.STATX_MTIME);
    this.ctimeMs = ms(L.STATX_CTIME);
    this.birthtimeMs = ms(L.STATX_BTIME);
    this.directMemoryAlign = v.getUint32(L.STATX_DIO_MEM_ALIGN, true);
    this.directOffsetAlign = v.getUint32(L.STATX_DIO_MEM_ALIGN + 4, true);
  }

  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === 0o010000;
  }
}

/** glibc's makedev (what Node's `stat().dev` is), in exact doubles. */
function makedev(major: number, minor: number): number {
  const low = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12);
  return (low >>> 0) + Math.floor(major / 0x1000) * 2 ** 44 + Math.floor(minor / 2 ** 20) * 2 ** 32;
}
