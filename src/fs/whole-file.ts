/**
 * Whole-file helpers: `readFile` and `writeFile`, on `File`.
 *
 * `readFile` reads into one pool buffer, lent to the kernel as it is, and
 * copies each chunk into the result (sized by `stat()`, grown if the file
 * grew meanwhile); `writeFile` writes through pool buffers, one chunk at a
 * time. Either way no buffer is allocated per chunk, and the file is closed
 * whatever happens.
 *
 * ```ts
 * import * as os from 'node:os';
 * import * as path from 'node:path';
 * import * as fs from 'node:fs';
 * import { readFile, writeFile } from 'percore';
 * const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-whole-'));
 * await writeFile(path.join(dir, 'config.json'), JSON.stringify({ port: 8080 }));
 * const text = (await readFile(path.join(dir, 'config.json'))).toString('utf8');
 * fs.rmSync(dir, { recursive: true });
 * ```
 */
import { invalidArgType } from '../errors/errors';
import { Runtime } from '../runtime/runtime';
import { File, type OpenOptions } from './file';

/** Options of `readFile`. */
export interface ReadFileOptions {
  runtime?: Runtime;
  signal?: AbortSignal;
}

/** Options of `writeFile`: `flags` default `'w'` (`'a'` appends, `'wx'` refuses an existing file). */
export type WriteFileOptions = OpenOptions;

/** The whole contents of `path`. */
export async function readFile(path: string, options: ReadFileOptions = {}): Promise<Buffer> {
  const rt = options.runtime ?? Runtime.current();
  const file = await File.open(path, { runtime: rt, signal: options.signal });
  let chunk: Uint8Array | undefined;
  try {
    const io = { signal: options.signal };
    let out: Buffer = Buffer.allocUnsafe((await file.stat(io)).size);
    chunk = await rt.acquireBuffer({ signal: options.signal });
    let size = 0;
    for (;;) {
      const [n] = await file.readAt(chunk, size, io);
      if (n === 0) break;
      if (size + n > out.length) out = grow(out, size, size + n);
      out.set(chunk.subarray(0, n), size);
      size += n;
    }
    return size === out.length ? out : out.subarray(0, size);
  } finally {
    if (chunk !== undefined) rt.release(chunk);
    await file.close();
  }
}

/** Writes `data` (a string is UTF-8) to `path`, creating or truncating it. */
export async function writeFile(
  path: string,
  data: Uint8Array | string,
  options: WriteFileOptions = {},
): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (!(bytes instanceof Uint8Array)) throw invalidArgType('data', 'a string or an instance of Uint8Array', data);
  const file = await File.open(path, { flags: 'w', ...options });
  try {
    await file.writeAllAt(bytes, 0, { signal: options.signal });
  } finally {
    await file.close();
  }
}

/** A larger copy of the first `used` bytes of `buf`, room for at least `need`. */
function grow(buf: Buffer, used: number, need: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}
