// The built-in codecs (see framed.ts for the model): lines and length-delimited frames.
import { codedError } from '../../errors/errors';
import { validateInteger } from '../../errors/validate';
import { tooLong } from '../buf-common';
import type { BufReader } from '../buf-reader';
import type { BufWriter } from '../buf-writer';
import type { Codec } from './framed';

/** Options of `lines()`. */
export interface LinesOptions {
  /** The longest line in bytes, its end excluded (default 65536). */
  maxLength?: number;
  /** How lines are decoded and encoded (default utf8). */
  encoding?: BufferEncoding;
  /** What `send` appends (default `'\n'`); either end is accepted when reading. */
  eol?: '\n' | '\r\n';
}

/** Lines as strings: LF or CRLF in, `eol` out. A line longer than
 * `maxLength` rejects with `ERR_PERCORE_LINE_TOO_LONG`; at the end of the
 * stream an unterminated last line is still a line. */
export function lines(options: LinesOptions = {}): Codec<string> {
  const maxLength = options.maxLength ?? 65536;
  validateInteger(maxLength, 'options.maxLength', 1, 2 ** 30);
  const encoding = options.encoding ?? 'utf8';
  const eol = options.eol ?? '\n';
  return {
    // The reader's limit counts the terminator (LF or CRLF) too.
    maxLength: maxLength + 2,
    async decode(reader: BufReader): Promise<string | null> {
      const line = await reader.readLine();
      if (line === null) return null;
      if (line.length > maxLength) throw tooLong('line', maxLength, line.length);
      return Buffer.from(line.buffer, line.byteOffset, line.length).toString(encoding);
    },
    async encode(line: string, writer: BufWriter): Promise<void> {
      const text = line + eol;
      if (Buffer.byteLength(line, encoding) > maxLength) throw tooLong('line', maxLength, Buffer.byteLength(line));
      if (!writer.tryWrite(text, encoding)) await writer.write(Buffer.from(text, encoding));
    },
  };
}

/** Options of `lengthDelimited()`. */
export interface LengthDelimitedOptions {
  /** Bytes of the length prefix: 1, 2 or 4 (default 4). */
  lengthBytes?: 1 | 2 | 4;
  /** The prefix's byte order (default `'be'`, network order). */
  byteOrder?: 'be' | 'le';
  /** The longest frame body (default 1 MiB, at most what the prefix can say). */
  maxLength?: number;
  /** Yield views of the reader's buffer (valid until the next frame) rather
   * than copies (default false: copies). */
  view?: boolean;
}

/** Frames as `[length][body]`; the length counts the body only. A frame
 * longer than `maxLength`, read or sent, rejects with
 * `ERR_PERCORE_FRAME_TOO_LONG` (read: before its body is buffered); a stream
 * ending inside a frame rejects with `ERR_STREAM_PREMATURE_CLOSE`. */
export function lengthDelimited(options: LengthDelimitedOptions = {}): Codec<Uint8Array> {
  const lengthBytes = options.lengthBytes ?? 4;
  if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
    throw codedError(
      'ERR_INVALID_ARG_VALUE',
      `options.lengthBytes must be 1, 2 or 4. Received ${String(lengthBytes)}`,
      TypeError,
    );
  }
  const little = (options.byteOrder ?? 'be') === 'le';
  if (options.byteOrder !== undefined && options.byteOrder !== 'be' && options.byteOrder !== 'le') {
    throw codedError('ERR_INVALID_ARG_VALUE', `options.byteOrder must be 'be' or 'le'`, TypeError);
  }
  const limit = lengthBytes === 4 ? 2 ** 30 : 2 ** (8 * lengthBytes) - 1;
  const maxLength = options.maxLength ?? Math.min(1 << 20, limit);
  validateInteger(maxLength, 'options.maxLength', 0, limit);
  const view = options.view === true;
  const header = new Uint8Array(lengthBytes);
  const dv = new DataView(header.buffer);
  return {
    maxLength: Math.max(maxLength, lengthBytes),
    async decode(reader: BufReader): Promise<Uint8Array | null> {
      const first = await reader.peek(1);
      if (first.length === 0) return null;
      const head = await reader.readExact(lengthBytes);
      const n =
        lengthBytes === 1
          ? head[0]
          : lengthBytes === 2
            ? little
              ? head[0] | (head[1] << 8)
              : (head[0] << 8) | head[1]
            : little
              ? (head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24)) >>> 0
              : ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
      if (n > maxLength) throw tooLong('frame', maxLength, n);
      const body = await reader.readExact(n);
      return view ? body : body.slice();
    },
    async encode(frame: Uint8Array, writer: BufWriter): Promise<void> {
      if (frame.length > maxLength) throw tooLong('frame', maxLength, frame.length);
      if (lengthBytes === 1) dv.setUint8(0, frame.length);
      else if (lengthBytes === 2) dv.setUint16(0, frame.length, little);
      else dv.setUint32(0, frame.length, little);
      if (!writer.tryWrite(header)) await writer.write(header.slice()); // header is shared: a copy if it waits
      if (!writer.tryWrite(frame)) await writer.write(frame);
    },
  };
}
