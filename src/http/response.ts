/**
 * `HttpResponse`: what a handler answers with, written in one send.
 *
 * ## The model
 * `res.end(body)` builds the status line and headers as one string (the
 * status line and the `Date` header come ready-made), puts it and the body in
 * the connection's write buffer, and the buffer leaves in one send at the
 * end of the job (the `BufWriter`'s cork). `Content-Length` is added from
 * the body; a `HEAD` response carries it without the body. `write(chunk)`
 * streams instead: the head goes out with `Transfer-Encoding: chunked` (or
 * the `Content-Length` you set, or, to an HTTP/1.0 client, no length and a
 * close at the end), and each `write` resolves once its chunk is buffered
 * (back-pressure: await it). One `HttpResponse` per connection, reused.
 *
 * ```ts
 * import { serve } from 'percore';
 * const server = await serve({ port: 0 }, async (req, res) => {
 *   if (req.path === '/stream') {
 *     res.setHeader('content-type', 'text/plain');
 *     await res.write('one ');
 *     res.end('two');                  // chunked: "one two"
 *   } else {
 *     res.status = 404;
 *     res.end('not here');
 *   }
 * });
 * await server.close();
 * ```
 */
import { codedError } from '../errors/errors';
import type { BufWriter } from '../io/buf-writer';
import { bodyless, statusLine } from './status';

/** The connection a response is written to. @internal */
export interface ResponseSink {
  readonly out: BufWriter;
  /** `date: …\r\n`, refreshed by the server's clock. */
  readonly dateLine: string;
  /** Whether the connection stays open after this response (a response may turn it off). */
  keepAlive: boolean;
  /** The request's HTTP minor version (0 or 1). */
  readonly minor: number;
  /** Whether the request was a HEAD. */
  readonly isHead: boolean;
}

const RESOLVED: Promise<void> = Promise.resolve();
const INVALID_VALUE = /[\0\r\n]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Header names already checked: a handler sets the same few on every response. */
const validNames = new Set<string>();

/** The response to one request (see the module docs). */
export class HttpResponse {
  /** The status code (default 200). */
  status = 200;
  /** Whether the status line and headers have been written. */
  headersSent = false;
  /** Whether `end()` has been called. */
  finished = false;
  /** @internal a write that did not fit the buffer, still going: later writes chain on it. */
  pending: Promise<void> | undefined;
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private count = 0;
  private hasLength = false;
  private chunked = false;
  private sink!: ResponseSink;
  private onFinish: (() => void) | undefined;

  /** @internal called for each request. */
  reset(sink: ResponseSink): void {
    this.sink = sink;
    this.status = 200;
    this.headersSent = false;
    this.finished = false;
    this.count = 0;
    this.hasLength = false;
    this.chunked = false;
    this.onFinish = undefined;
  }

  /** Sets a response header (a second call with the same name adds another
   * field). Throws `ERR_INVALID_HTTP_TOKEN` / `ERR_INVALID_CHAR` on a name or
   * value that would break the head, `ERR_HTTP_HEADERS_SENT` once sent. */
  setHeader(name: string, value: string | number): this {
    if (this.headersSent) throw codedError('ERR_HTTP_HEADERS_SENT', 'the headers have been sent already');
    const v = typeof value === 'number' ? String(value) : value;
    if (!validNames.has(name)) {
      if (!TOKEN.test(name)) {
        throw codedError('ERR_INVALID_HTTP_TOKEN', `invalid header name: ${JSON.stringify(name)}`, TypeError);
      }
      if (validNames.size < 1024) validNames.add(name);
    }
    if (INVALID_VALUE.test(v))
      throw codedError('ERR_INVALID_CHAR', `invalid character in the value of ${name}`, TypeError);
    if (name.length === 14 && name.toLowerCase() === 'content-length') this.hasLength = true;
    else if (name.length === 10 && name.toLowerCase() === 'connection' && /\bclose\b/i.test(v))
      this.sink.keepAlive = false;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      throw codedError(
        'ERR_HTTP_INVALID_HEADER_VALUE',
        "transfer-encoding is the server's: use write() to stream",
        TypeError,
      );
    }
    this.names[this.count] = name;
    this.values[this.count] = v;
    this.count++;
    return this;
  }

  /** The value of the response header `name` set so far (the first one), or undefined. */
  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.count; i++) if (this.names[i].toLowerCase() === lower) return this.values[i];
    return undefined;
  }

  /** Ends the response, with `body` as the whole body (or the last chunk after `write`). */
  end(body?: string | Uint8Array): void {
    if (this.finished) throw codedError('ERR_STREAM_WRITE_AFTER_END', 'end() was called already');
    this.finished = true;
    const sink = this.sink;
    if (this.headersSent) {
      if (body !== undefined && body.length > 0) this.chunk(body);
      if (this.chunked && !sink.isHead) this.put('0\r\n\r\n');
    } else {
      const noBody = bodyless(this.status);
      const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      let head = this.head();
      if (!noBody && !this.hasLength) head += `content-length: ${length}\r\n\r\n`;
      else head += '\r\n';
      this.put(head);
      if (!noBody && !sink.isHead && length > 0) this.put(body as string | Uint8Array, 'utf8');
    }
    const done = this.onFinish;
    if (done !== undefined) done();
  }

  /** Streams a chunk of the body (sending the head first); resolves once it is buffered. */
  write(chunk: string | Uint8Array): Promise<void> {
    if (this.finished) return Promise.reject(codedError('ERR_STREAM_WRITE_AFTER_END', 'write() after end()'));
    if (!this.headersSent) {
      if (!this.hasLength && !bodyless(this.status)) {
        if (this.sink.minor === 1) this.chunked = true;
        else this.sink.keepAlive = false; // HTTP/1.0 with no length: the close ends the body
      }
      const head = this.head();
      this.put(this.chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`);
    }
    if (chunk.length === 0) return this.pending ?? RESOLVED;
    return this.chunk(chunk);
  }

  /** @internal resolves once `end()` has been called. */
  untilFinished(): Promise<void> {
    if (this.finished) return RESOLVED;
    return new Promise((resolve) => {
      this.onFinish = resolve;
    });
  }

  /** The status line and headers, without the empty line that ends them. */
  private head(): string {
    this.headersSent = true;
    const sink = this.sink;
    let head = statusLine(this.status) + sink.dateLine;
    for (let i = 0; i < this.count; i++) head += `${this.names[i]}: ${this.values[i]}\r\n`;
    if (!sink.keepAlive) head += 'connection: close\r\n';
    else if (sink.minor === 0) head += 'connection: keep-alive\r\n';
    return head;
  }

  private chunk(data: string | Uint8Array): Promise<void> {
    if (this.sink.isHead || bodyless(this.status)) return this.pending ?? RESOLVED;
    if (!this.chunked) return this.put(data, 'utf8');
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.put(`${length.toString(16)}\r\n`);
    this.put(data, 'utf8');
    return this.put('\r\n');
  }

  /** Buffers `data` (a string as `encoding`: latin1 for heads, utf8 for
   * bodies) at once if it fits and nothing is pending, else chains a write
   * after what is, so bytes keep their order. */
  private put(data: string | Uint8Array, encoding: BufferEncoding = 'latin1'): Promise<void> {
    const out = this.sink.out;
    if (this.pending === undefined && out.tryWrite(data, encoding)) return RESOLVED;
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    const next: Promise<void> = (this.pending ?? RESOLVED).then(async () => {
      await out.write(bytes);
    });
    this.pending = next;
    void next.then(
      () => {
        if (this.pending === next) this.pending = undefined;
      },
      () => {},
    );
    return next;
  }
}
