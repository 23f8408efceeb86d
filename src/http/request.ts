/**
 * `HttpRequest`: a request as the handler sees it, decoded only where asked.
 *
 * ## The model
 * The parser leaves offsets into the connection's read buffer; this object
 * turns them into strings when, and only when, the handler reads `method`,
 * `url`, `path`, `query` or a header (each decoded once per request, then
 * kept). One `HttpRequest` per connection, reused for every request on it:
 * it is valid until the handler's response ends; keep what you need (the
 * strings are yours) rather than the object.
 *
 * The body is streamed: `read()` resolves the next chunk as a view of the
 * connection's buffer (valid until the next `read()`), `null` at its end;
 * nothing more is read from the socket than the handler asks for
 * (back-pressure), and a client that sent `Expect: 100-continue` is told to
 * go on only when the handler first reads. `bytes()` and `text()` gather it.
 *
 * ```ts
 * import { serve } from 'percore';
 * const server = await serve({ port: 0 }, async (req, res) => {
 *   const body = await req.text();   // '' for a GET
 *   res.end(`${req.method} ${req.path} ${req.header('host')} ${body.length}`);
 * });
 * await server.close();
 * ```
 */
import { BODY_NONE, type HttpParser } from './parser';

/** Where a request's body comes from: the connection. @internal */
export interface BodySource {
  readBody(): Promise<Uint8Array | null>;
}

const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'];

/** A request's head and body (see the module docs). */
export class HttpRequest {
  /** @internal the bytes the parser's offsets point into. */
  src: Buffer = Buffer.alloc(0);
  private methodText: string | undefined;
  private urlText: string | undefined;
  private queryAt = -2;

  /** @internal */
  constructor(
    /** @internal */ readonly parser: HttpParser,
    private readonly body: BodySource,
  ) {}

  /** @internal called for each request the parser found in `src`. */
  reset(src: Buffer): void {
    this.src = src;
    this.methodText = undefined;
    this.urlText = undefined;
    this.queryAt = -2;
  }

  /** The method, as sent (methods are case-sensitive). */
  get method(): string {
    if (this.methodText !== undefined) return this.methodText;
    const p = this.parser;
    const s = this.src;
    const n = p.methodEnd - p.methodStart;
    for (const m of METHODS) {
      if (m.length !== n) continue;
      let i = 0;
      while (i < n && s[p.methodStart + i] === m.charCodeAt(i)) i++;
      if (i === n) {
        this.methodText = m;
        return m;
      }
    }
    const text = s.toString('latin1', p.methodStart, p.methodEnd);
    this.methodText = text;
    return text;
  }

  /** The request target as sent: `/path?query` (or an absolute URL, `*`, an authority). */
  get url(): string {
    if (this.urlText === undefined)
      this.urlText = this.src.toString('latin1', this.parser.targetStart, this.parser.targetEnd);
    return this.urlText;
  }

  /** The target up to its `?`. */
  get path(): string {
    const q = this.questionMark();
    return q < 0 ? this.url : this.url.slice(0, q);
  }

  /** The target after its `?` ('' if none). */
  get query(): string {
    const q = this.questionMark();
    return q < 0 ? '' : this.url.slice(q + 1);
  }

  private questionMark(): number {
    if (this.queryAt === -2) this.queryAt = this.url.indexOf('?');
    return this.queryAt;
  }

  /** `'1.1'` or `'1.0'`. */
  get httpVersion(): '1.0' | '1.1' {
    return this.parser.minor === 0 ? '1.0' : '1.1';
  }

  /** How many header fields the request has. */
  get headerCount(): number {
    return this.parser.headerCount;
  }

  /** The `i`-th header's name, lower-cased. */
  headerName(i: number): string {
    const h = this.parser.headers;
    return this.src.toString('latin1', h[i * 4], h[i * 4 + 1]).toLowerCase();
  }

  /** The `i`-th header's value, without surrounding whitespace. */
  headerValue(i: number): string {
    const h = this.parser.headers;
    return this.src.toString('latin1', h[i * 4 + 2], h[i * 4 + 3]);
  }

  /** The value of the header `name` (any case); several fields of that name
   * are joined with `, `. Undefined if there is none. */
  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    const h = this.parser.headers;
    const s = this.src;
    let value: string | undefined;
    for (let i = 0; i < this.parser.headerCount; i++) {
      const ns = h[i * 4];
      if (h[i * 4 + 1] - ns !== lower.length) continue;
      let j = 0;
      for (; j < lower.length; j++) {
        const c = s[ns + j];
        if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(j)) break;
      }
      if (j < lower.length) continue;
      const v = s.toString('latin1', h[i * 4 + 2], h[i * 4 + 3]);
      value = value === undefined ? v : `${value}, ${v}`;
    }
    return value;
  }

  /** Every header as an object (lower-case names; repeated ones joined with `, `). Builds it on each call. */
  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < this.parser.headerCount; i++) {
      const name = this.headerName(i);
      const value = this.headerValue(i);
      out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
    }
    return out;
  }

  /** Whether the request has a body (a Content-Length above 0, or chunked). */
  get hasBody(): boolean {
    return this.parser.bodyKind !== BODY_NONE;
  }

  /** The declared Content-Length, or undefined (none, or chunked). */
  get contentLength(): number | undefined {
    return this.parser.contentLength >= 0 ? this.parser.contentLength : undefined;
  }

  /** The next chunk of the body: a view valid until the next `read()`, or
   * `null` at its end. Rejects if the client breaks the framing or goes away
   * (the connection is then closed). */
  read(): Promise<Uint8Array | null> {
    return this.body.readBody();
  }

  /** The body's chunks (views, each valid until the next one). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** The whole body, copied into one Buffer (bounded by the server's `maxBodySize`). */
  async bytes(): Promise<Buffer> {
    const first = await this.read();
    if (first === null) return Buffer.alloc(0);
    const chunks = [Buffer.from(first)];
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) chunks.push(Buffer.from(chunk));
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  /** The whole body decoded as UTF-8. */
  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }
}
