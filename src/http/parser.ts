/**
 * The request-head parser: RFC 9112 §2–§6, over the bytes where they landed.
 *
 * ## The model
 * A connection reads into one buffer (a pool buffer in the core's memory);
 * `parse(b, start, end)` scans `b[start, end)` for one request line and its
 * header section and records where each part is: offsets, never strings. The
 * method, target, header names and values are decoded only when a handler
 * asks for them (`HttpRequest`). One parser per connection, reused for every
 * request: parsing allocates nothing.
 *
 * The framing headers are interpreted while scanning (`Content-Length`,
 * `Transfer-Encoding`, `Connection`, `Expect`, `Host`), strictly, because a
 * server that reads a message's length differently from a proxy in front of
 * it can be made to see two requests where the proxy saw one (request
 * smuggling). So: both `Content-Length` and `Transfer-Encoding`, differing
 * `Content-Length` values, a transfer coding other than a final `chunked`, a
 * line folded onto the next (obs-fold), a CR not followed by LF, whitespace
 * between a field name and its colon, and any character a token or a field
 * value may not hold are all errors: the connection answers 400 and closes.
 * Lines end with CRLF only. Sizes over the limits answer 431 (head) or 413
 * (a declared body), a version other than 1.x 505, an unknown expectation
 * 417, a transfer coding we do not implement 501.
 *
 * ```ts
 * import { HttpParser } from 'percore';
 * const p = new HttpParser();
 * const bytes = Buffer.from('GET /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi');
 * const headEnd = p.parse(bytes, 0, bytes.length);   // 49: the body starts there
 * console.log(p.contentLength, p.headerCount);         // 2 2
 * ```
 */
import * as chars from './chars';

// Module-local bindings: compiled to CommonJS, an imported name is a property
// load on every use, which the parser's byte loops cannot afford.
const { CR, LF, SP, HTAB, TCHAR, FIELD_VALUE, TARGET, equalsLower, ascii } = chars;

/** Limits of a request's head and body (each configurable on `serve`). */
export interface HttpLimits {
  /** Bytes of request line and header section together; beyond: 431. Default 16384. */
  maxHeaderSize?: number;
  /** Header fields in a request; beyond: 431. Default 100. */
  maxHeaders?: number;
  /** Bytes of a request body (declared or chunked); beyond: 413. Default 8 MiB. */
  maxBodySize?: number;
}

export const DEFAULT_LIMITS: Required<HttpLimits> = { maxHeaderSize: 16384, maxHeaders: 100, maxBodySize: 8 << 20 };

/** How the request's body is framed. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

const CONTENT_LENGTH = ascii('content-length');
const TRANSFER_ENCODING = ascii('transfer-encoding');
const CONNECTION = ascii('connection');
const EXPECT = ascii('expect');
const HOST = ascii('host');
const CHUNKED = ascii('chunked');
const CLOSE = ascii('close');
const KEEP_ALIVE = ascii('keep-alive');
const CONTINUE = ascii('100-continue');
const HTTP_SLASH = ascii('HTTP/');

/** The parser of one connection (see the module docs). */
export class HttpParser extends chars.Refusing {
  readonly maxHeaderSize: number;
  readonly maxHeaders: number;
  readonly maxBodySize: number;
  /** Offsets of the last head parsed, into the buffer given to `parse`. */
  methodStart = 0;
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x). */
  minor = 1;
  headerCount = 0;
  /** Per header: name start, name end, value start, value end (value without its surrounding whitespace). */
  readonly headers: Int32Array;
  /** BODY_NONE, BODY_LENGTH or BODY_CHUNKED. */
  bodyKind = BODY_NONE;
  /** The declared Content-Length, or -1. */
  contentLength = -1;
  /** Whether the connection stays open after this request (version and Connection). */
  keepAlive = true;
  /** Whether the client sent `Expect: 100-continue`. */
  expectContinue = false;
  // Per-head scratch, reset by parse.
  private hosts = 0;
  private te = 0; // 0 none, 1 chunked last, 2 another coding last
  private teChunked = false;
  private teOther = false;
  private closeToken = false;
  private keepAliveToken = false;

  constructor(limits: HttpLimits = {}) {
    super();
    this.maxHeaderSize = limits.maxHeaderSize ?? DEFAULT_LIMITS.maxHeaderSize;
    this.maxHeaders = limits.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;
    this.maxBodySize = limits.maxBodySize ?? DEFAULT_LIMITS.maxBodySize;
    this.headers = new Int32Array(this.maxHeaders * 4);
  }

  /** Parses one request head in `b[start, end)`. Returns the offset just past
   * it (> start), 0 when the head is not all there yet, or -1 on an error
   * (`status` and `reason` say which). A head not complete within
   * `maxHeaderSize` bytes is the caller's to answer with 431. */
  parse(b: Uint8Array, start: number, end: number): number {
    this.reset();
    let p = start;
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    while (p + 1 < end && b[p] === CR && b[p + 1] === LF) p += 2;
    const headStart = p;
    p = this.requestLine(b, p, end);
    if (p <= 0) return p;
    p = this.fields(b, p, end);
    if (p <= 0) return p;
    if (p - headStart > this.maxHeaderSize) return this.fail(431, 'the request head is too large');
    return this.framing() ? p : -1;
  }

  /** Moves every offset by `delta` (the head was copied elsewhere). */
  rebase(delta: number): void {
    this.methodStart += delta;
    this.methodEnd += delta;
    this.targetStart += delta;
    this.targetEnd += delta;
    const h = this.headers;
    for (let i = 0; i < this.headerCount * 4; i++) h[i] += delta;
  }

  private reset(): void {
    this.headerCount = 0;
    this.bodyKind = BODY_NONE;
    this.contentLength = -1;
    this.expectContinue = false;
    this.status = 0;
    this.reason = '';
    this.hosts = 0;
    this.te = 0;
    this.teChunked = false;
    this.teOther = false;
    this.closeToken = false;
    this.keepAliveToken = false;
  }

  /** method SP request-target SP HTTP-version CRLF (§3). */
  private requestLine(b: Uint8Array, p: number, end: number): number {
    const ms = p;
    while (p < end && TCHAR[b[p]] === 1) p++;
    if (p === end) return 0;
    if (p === ms || b[p] !== SP) return this.fail(400, 'invalid method');
    this.methodStart = ms;
    this.methodEnd = p++;
    const ts = p;
    while (p < end && TARGET[b[p]] === 1) p++;
    if (p === end) return 0;
    if (p === ts || b[p] !== SP) return this.fail(400, 'invalid request target');
    this.targetStart = ts;
    this.targetEnd = p++;
    if (end - p < 10) return 0;
    for (let i = 0; i < 5; i++) if (b[p + i] !== HTTP_SLASH[i]) return this.fail(400, 'invalid HTTP version');
    const major = b[p + 5] - 0x30;
    const minor = b[p + 7] - 0x30;
    if (major < 0 || major > 9 || b[p + 6] !== 0x2e || minor < 0 || minor > 9) {
      return this.fail(400, 'invalid HTTP version');
    }
    if (b[p + 8] !== CR || b[p + 9] !== LF) return this.fail(400, 'the request line does not end with CRLF');
    if (major !== 1) return this.fail(505, 'HTTP version not supported');
    this.minor = minor === 0 ? 0 : 1;
    return p + 10;
  }

  /** field-line CRLF … CRLF (§5): returns the offset past the empty line. */
  private fields(b: Uint8Array, p: number, end: number): number {
    const h = this.headers;
    for (;;) {
      if (p >= end) return 0;
      const c = b[p];
      if (c === CR) {
        if (p + 1 >= end) return 0;
        if (b[p + 1] !== LF) return this.fail(400, 'bare CR');
        return p + 2;
      }
      if (c === SP || c === HTAB) return this.fail(400, 'obsolete line folding');
      const ns = p;
      while (p < end && TCHAR[b[p]] === 1) p++;
      if (p === end) return 0;
      if (p === ns || b[p] !== 0x3a) return this.fail(400, 'invalid header name');
      const ne = p++;
      while (p < end && (b[p] === SP || b[p] === HTAB)) p++;
      const vs = p;
      while (p < end && FIELD_VALUE[b[p]] === 1) p++;
      if (p === end) return 0;
      if (b[p] !== CR) return this.fail(400, 'invalid character in a header value');
      if (p + 1 === end) return 0;
      if (b[p + 1] !== LF) return this.fail(400, 'bare CR');
      let ve = p;
      while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
      const n = this.headerCount;
      if (n === this.maxHeaders) return this.fail(431, 'too many header fields');
      h[n * 4] = ns;
      h[n * 4 + 1] = ne;
      h[n * 4 + 2] = vs;
      h[n * 4 + 3] = ve;
      this.headerCount = n + 1;
      if (!this.special(b, ns, ne, vs, ve)) return -1;
      p += 2;
    }
  }

  /** Interprets the framing headers; false on an error (status set). */
  private special(b: Uint8Array, ns: number, ne: number, vs: number, ve: number): boolean {
    switch (ne - ns) {
      case 4:
        if (equalsLower(b, ns, ne, HOST) && ++this.hosts > 1) return this.fail(400, 'more than one Host') === 0;
        return true;
      case 6:
        if (!equalsLower(b, ns, ne, EXPECT)) return true;
        if (!equalsLower(b, vs, ve, CONTINUE)) return this.fail(417, 'unsupported expectation') === 0;
        this.expectContinue = true;
        return true;
      case 10:
        if (equalsLower(b, ns, ne, CONNECTION)) this.connectionTokens(b, vs, ve);
        return true;
      case 14:
        if (!equalsLower(b, ns, ne, CONTENT_LENGTH)) return true;
        return this.contentLengthValue(b, vs, ve);
      case 17:
        if (!equalsLower(b, ns, ne, TRANSFER_ENCODING)) return true;
        return this.codings(b, vs, ve);
      default:
        return true;
    }
  }

  /** Content-Length = 1*DIGIT, or a list of identical values (§6.3). */
  private contentLengthValue(b: Uint8Array, vs: number, ve: number): boolean {
    let p = vs;
    for (;;) {
      let value = 0;
      const ds = p;
      while (p < ve && b[p] >= 0x30 && b[p] <= 0x39) {
        value = value * 10 + (b[p] - 0x30);
        p++;
      }
      if (p === ds || p - ds > 15) return this.fail(400, 'invalid Content-Length') === 0;
      if (this.contentLength >= 0 && this.contentLength !== value) {
        return this.fail(400, 'differing Content-Length values') === 0;
      }
      this.contentLength = value;
      while (p < ve && (b[p] === SP || b[p] === HTAB)) p++;
      if (p === ve) return true;
      if (b[p] !== 0x2c) return this.fail(400, 'invalid Content-Length') === 0;
      p++;
      while (p < ve && (b[p] === SP || b[p] === HTAB)) p++;
    }
  }

  /** Transfer-Encoding: a list of codings; only a single, final `chunked` is served (§6.1, §7). */
  private codings(b: Uint8Array, vs: number, ve: number): boolean {
    let p = vs;
    while (p < ve) {
      const ts = p;
      while (p < ve && TCHAR[b[p]] === 1) p++;
      const te = p;
      // Coding parameters (`;q=…`) belong to codings we do not implement: skip to the comma.
      while (p < ve && b[p] !== 0x2c) p++;
      if (te > ts) {
        if (equalsLower(b, ts, te, CHUNKED)) {
          if (this.teChunked) return this.fail(400, 'chunked applied twice') === 0;
          this.teChunked = true;
          this.te = 1;
        } else {
          this.teOther = true;
          this.te = 2;
        }
      } else if (p > ts) {
        return this.fail(400, 'invalid Transfer-Encoding') === 0;
      }
      p++; // the comma
      while (p < ve && (b[p] === SP || b[p] === HTAB)) p++;
    }
    if (this.te === 0) this.te = 2; // an empty Transfer-Encoding is no chunked coding either
    return true;
  }

  private connectionTokens(b: Uint8Array, vs: number, ve: number): void {
    let p = vs;
    while (p < ve) {
      const ts = p;
      while (p < ve && TCHAR[b[p]] === 1) p++;
      if (equalsLower(b, ts, p, CLOSE)) this.closeToken = true;
      else if (equalsLower(b, ts, p, KEEP_ALIVE)) this.keepAliveToken = true;
      while (p < ve && TCHAR[b[p]] !== 1) p++;
    }
  }

  /** Decides the body's framing and the connection's fate (§6.3, §9.3). */
  private framing(): boolean {
    if (this.te !== 0) {
      if (this.contentLength >= 0) return this.fail(400, 'both Content-Length and Transfer-Encoding') === 0;
      if (this.minor === 0) return this.fail(400, 'Transfer-Encoding in an HTTP/1.0 request') === 0;
      if (this.te !== 1) return this.fail(400, 'the final transfer coding is not chunked') === 0;
      if (this.teOther) return this.fail(501, 'transfer coding not implemented') === 0;
      this.bodyKind = BODY_CHUNKED;
    } else if (this.contentLength > 0) {
      if (this.contentLength > this.maxBodySize) return this.fail(413, 'the request body is too large') === 0;
      this.bodyKind = BODY_LENGTH;
    }
    if (this.minor === 1 && this.hosts === 0) return this.fail(400, 'no Host header') === 0;
    this.keepAlive = !this.closeToken && (this.minor === 1 || this.keepAliveToken);
    return true;
  }
}
