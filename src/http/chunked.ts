// The chunked transfer coding of a request body (RFC 9112 §7.1), decoded in
// place: `next` walks the connection's buffer and says which bytes are body
// data, so data is never copied out of the buffer it was received into.
import * as chars from './chars';

// Module-local bindings: compiled to CommonJS, an imported name is a property
// load on every use, which the parser's byte loops cannot afford.
const { CR, LF, SP, HTAB, TCHAR, FIELD_VALUE, HEX } = chars;

const SIZE = 0; // at a chunk-size line
const DATA = 1; // inside a chunk's data
const DATA_END = 2; // at the CRLF after a chunk's data
const TRAILER = 3; // in the trailer section, at the start of a line
const DONE = 4;

/** The longest chunk-size line (size and extensions) or trailer line accepted. */
const MAX_LINE = 4096;

/** A chunked body's decoder: one per connection, `reset` for each request. */
export class ChunkedDecoder extends chars.Refusing {
  private state: number = SIZE;
  private remaining = 0;
  private trailerBytes = 0;
  /** Body bytes decoded so far. */
  total = 0;
  /** After `next`: the body data found, `b[dataStart, dataEnd)` (may be empty). */
  dataStart = 0;
  dataEnd = 0;
  constructor(
    private readonly maxBodySize: number,
    private readonly maxTrailerSize: number,
  ) {
    super();
  }

  reset(): void {
    this.state = SIZE;
    this.remaining = 0;
    this.trailerBytes = 0;
    this.total = 0;
    this.status = 0;
  }

  /** Whether the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** Decodes from `b[p, end)`: returns the offset up to which the bytes are
   * consumed, with `dataStart`/`dataEnd` set to the data found (empty if
   * none); the same `p` and no data means more bytes are needed. -1 on a
   * malformed or oversized body (`status`, `reason`). */
  next(b: Uint8Array, p: number, end: number): number {
    this.dataStart = this.dataEnd = p;
    while (p < end) {
      switch (this.state) {
        case SIZE: {
          const q = this.sizeLine(b, p, end);
          if (q < 0 || q === p) return q;
          p = q;
          break;
        }
        case DATA: {
          const n = Math.min(this.remaining, end - p);
          this.remaining -= n;
          if (this.remaining === 0) this.state = DATA_END;
          this.dataStart = p;
          this.dataEnd = p + n;
          return p + n;
        }
        case DATA_END:
          if (b[p] !== CR) return this.fail(400, 'chunk data not followed by CRLF');
          if (p + 1 === end) return p;
          if (b[p + 1] !== LF) return this.fail(400, 'bare CR');
          p += 2;
          this.state = SIZE;
          break;
        case TRAILER: {
          const q = this.trailerLine(b, p, end);
          if (q < 0 || q === p) return q;
          p = q;
          if (this.done) return p;
          break;
        }
        default:
          return p;
      }
    }
    return p;
  }

  /** chunk-size [ chunk-ext ] CRLF: returns the offset past it, `p` itself if
   * it is not all here, -1 on an error. */
  private sizeLine(b: Uint8Array, p: number, end: number): number {
    const start = p;
    let size = 0;
    while (p < end && HEX[b[p]] !== 0) {
      size = size * 16 + HEX[b[p]] - 1;
      p++;
    }
    const digits = p - start;
    if (digits > 13 || size > Number.MAX_SAFE_INTEGER) return this.fail(400, 'chunk size too large');
    if (p === end) return digits === 0 ? start : this.incomplete(start, end);
    if (digits === 0) return this.fail(400, 'invalid chunk size');
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): accepted, not interpreted.
    const c = b[p];
    if (c !== CR && c !== 0x3b && c !== SP && c !== HTAB) return this.fail(400, 'invalid chunk size');
    while (p < end && b[p] !== CR) {
      if (FIELD_VALUE[b[p]] !== 1) return this.fail(400, 'invalid chunk extension');
      p++;
    }
    if (p + 1 >= end) return this.incomplete(start, end);
    if (b[p + 1] !== LF) return this.fail(400, 'bare CR');
    p += 2;
    if (this.total + size > this.maxBodySize) return this.fail(413, 'the request body is too large');
    this.total += size;
    if (size === 0) this.state = TRAILER;
    else {
      this.remaining = size;
      this.state = DATA;
    }
    return p;
  }

  private incomplete(start: number, end: number): number {
    return end - start > MAX_LINE ? this.fail(400, 'chunk size line too long') : start;
  }

  /** One trailer field line, or the empty line that ends the body: returns
   * the offset past it, `p` itself if it is not all here, -1 on an error. Trailer
   * fields are checked and dropped (nothing here needs them). */
  private trailerLine(b: Uint8Array, p: number, end: number): number {
    const start = p;
    if (b[p] === CR) {
      if (p + 1 === end) return p;
      if (b[p + 1] !== LF) return this.fail(400, 'bare CR');
      this.state = DONE;
      return p + 2;
    }
    while (p < end && TCHAR[b[p]] === 1) p++;
    if (p === end) return this.trailerIncomplete(start, end);
    if (p === start || b[p] !== 0x3a) return this.fail(400, 'invalid trailer field');
    p++;
    while (p < end && FIELD_VALUE[b[p]] === 1) p++;
    if (p === end || p + 1 === end) return this.trailerIncomplete(start, end);
    if (b[p] !== CR || b[p + 1] !== LF) return this.fail(400, 'invalid trailer field');
    this.trailerBytes += p + 2 - start;
    if (this.trailerBytes > this.maxTrailerSize) return this.fail(431, 'the trailer section is too large');
    return p + 2;
  }

  private trailerIncomplete(start: number, end: number): number {
    if (this.trailerBytes + end - start > this.maxTrailerSize)
      return this.fail(431, 'the trailer section is too large');
    return start;
  }
}
