// One HTTP/1.1 connection: read, parse in place, call the handler, answer in
// order, again until the client or the server is done with it.
//
// Requests are served one at a time, in the order they arrived, so pipelined
// requests get their responses in order without any queue: every complete
// head already buffered is parsed and answered before the next read, and the
// answers of one read leave in one send (the BufWriter's cork, or the flush
// before the next read). The connection reads into one buffer of its own (a
// pool buffer); the parser's offsets point into it. A head
// stays there while its handler runs unless the body must be read past the
// end of the buffer: then the head is first copied aside (`keepHead`), so
// the request's strings stay valid while the buffer moves on.
import { codedError, type PercoreError } from '../errors/errors';
import { giveBack, takeBuffer } from '../io/buf-common';
import { BufWriter } from '../io/buf-writer';
import type { RentStream } from '../io/rent';
import type { Runtime } from '../runtime/runtime';
import * as chars from './chars';
import { ChunkedDecoder } from './chunked';
import { BODY_LENGTH, BODY_NONE, type HttpLimits, HttpParser } from './parser';
import { type BodySource, HttpRequest } from './request';
import { HttpResponse, type ResponseSink } from './response';
import { statusLine } from './status';

const CR = chars.CR;
const LF = chars.LF;

/** What a connection is served over: a TcpStream, or a TLS session on one (the bridge). @internal */
export interface ConnectionStream extends RentStream {
  close(): Promise<void> | void;
}

/** A server's limits and timeouts (ms; 0: none), every default filled in. @internal */
export interface ServerLimits extends Required<HttpLimits> {
  headersTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
  sendTimeout: number;
}

/** What a connection needs of its server. @internal */
export interface ConnectionHost {
  readonly handler: (req: HttpRequest, res: HttpResponse) => unknown;
  readonly limits: ServerLimits;
  /** `date: …\r\n`, refreshed by the server's clock. */
  readonly dateLine: string;
  /** The server's coarse clock (ms), refreshed with the date. */
  readonly now: number;
  /** Set once a graceful close has begun. */
  readonly closing: boolean;
  error(err: unknown): void;
  remove(conn: Connection): void;
}

/** Where a connection is: what its deadline (if any) is for. */
export const IDLE = 0; // waiting for the first byte of a request (keep-alive)
export const HEAD = 1; // a request head has begun
export const BODY = 2; // waiting for body bytes the handler asked for
export const HANDLER = 3; // the handler has the request
export const SEND = 4; // waiting for the client to take a response (a full socket buffer)

/** Bytes of an unread body drained after the response before the connection is closed instead. */
const DRAIN_LIMIT = 65536;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** One connection (see the file's comment). @internal */
export class Connection implements BodySource, ResponseSink {
  readonly out: BufWriter;
  private readonly parser: HttpParser;
  private readonly decoder: ChunkedDecoder;
  private readonly req: HttpRequest;
  private readonly res: HttpResponse;
  /** The read buffer (a pool buffer when there is one), and a Buffer over it (for decoding). */
  private readonly buf: Uint8Array;
  private readonly src: Buffer;
  /** The pool the buffer is from, if it is a pool buffer. */
  private readonly bufRuntime: Runtime | undefined;
  /** The unconsumed bytes are `buf[pos, end)`. */
  private pos = 0;
  private end = 0;
  stage = IDLE;
  /** When the current stage times out (the host's clock), or 0. */
  deadline = 0;
  private alive = true;
  minor = 1;
  isHead = false;
  // The current request's body.
  private bodyKind = BODY_NONE;
  private bodyLeft = 0;
  private bodyDone = true;
  private bodyError: PercoreError | undefined;
  private continueSent = false;
  // The current head: where it is in `src`, until copied aside.
  private headStart = 0;
  private headEnd = 0;
  private headLive = false;
  private headCopy: Buffer | undefined;

  constructor(
    readonly stream: ConnectionStream,
    private readonly host: ConnectionHost,
    /** Whose pool buffers to use when `stream` is not a percore stream (TLS). */
    runtime?: Runtime,
  ) {
    const limits = host.limits;
    this.parser = new HttpParser(limits);
    this.decoder = new ChunkedDecoder(limits.maxBodySize, limits.maxHeaderSize);
    // A head must fit the buffer: a pool buffer if it is large enough, else a plain one.
    let { buf, runtime: bufRuntime } = takeBuffer(stream, undefined, runtime);
    if (buf.length < limits.maxHeaderSize) {
      giveBack(buf, bufRuntime);
      buf = new Uint8Array(limits.maxHeaderSize);
      bufRuntime = undefined;
    }
    this.buf = buf;
    this.bufRuntime = bufRuntime;
    this.src = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.out = new BufWriter(stream, { runtime });
    this.req = new HttpRequest(this.parser, this);
    this.res = new HttpResponse();
  }

  get dateLine(): string {
    return this.host.dateLine;
  }

  /** Whether the connection stays open after this response: the request's
   * wish, unless the response or a graceful close ended it. */
  get keepAlive(): boolean {
    return this.alive && !this.host.closing;
  }

  set keepAlive(alive: boolean) {
    this.alive = alive;
  }

  /** Serves the connection until it ends; never rejects. */
  async run(): Promise<void> {
    try {
      await this.loop();
      if (this.out.buffered > 0) await this.out.flush();
    } catch (err) {
      if (!quiet(err)) this.host.error(err);
    } finally {
      this.out.release();
      this.host.remove(this);
      await this.stream.close();
      giveBack(this.buf, this.bufRuntime); // no read is in flight: each was awaited
    }
  }

  /** The deadline passed: a client too slow with a head or a body gets 408;
   * an idle one, or one that does not take its responses, is closed. */
  expire(): void {
    this.deadline = 0;
    if (
      (this.stage === HEAD || this.stage === BODY) &&
      this.out.tryWrite(`${statusLine(408)}connection: close\r\ncontent-length: 0\r\n\r\n`)
    ) {
      this.out
        .flush()
        .catch(() => {})
        .finally(() => this.stream.close());
      return;
    }
    void this.stream.close();
  }

  /** Closes the connection if it is between requests (graceful shutdown). */
  closeIfIdle(): void {
    if (this.stage === IDLE && this.pos === this.end) void this.stream.close();
  }

  private async loop(): Promise<void> {
    for (;;) {
      const end = await this.nextHead();
      if (end <= 0) return;
      // A handler that answered at once, with nothing left to wait for, costs no await.
      const rest = this.serveOne(end);
      if (rest !== undefined) await rest;
      if (!this.keepAlive || this.host.closing) return;
    }
  }

  /** Reads until a whole head is buffered and parses it: its end in `buf`,
   * 0 when the connection should just end, or after an error answered. */
  private async nextHead(): Promise<number> {
    let scanned = 0; // bytes after `pos` already searched for the head's end
    for (;;) {
      const avail = this.end - this.pos;
      if (avail > 0 && headComplete(this.buf, this.pos + scanned, this.end)) {
        const end = this.parser.parse(this.buf, this.pos, this.end);
        if (end > 0) return end;
        if (end < 0) return this.refuse(this.parser.status, this.parser.reason);
      }
      if (avail >= this.host.limits.maxHeaderSize) return this.refuse(431, 'the request head is too large');
      if (avail === 0 && this.host.closing) return 0;
      if (this.out.buffered > 0) {
        this.wait(SEND, this.host.limits.sendTimeout);
        await this.out.flush();
      }
      if (avail === 0) this.wait(IDLE, this.host.limits.keepAliveTimeout);
      else if (this.stage !== HEAD) this.wait(HEAD, this.host.limits.headersTimeout);
      scanned = Math.max(0, avail - 3);
      if ((await this.fill()) === 0) return 0; // the client is gone (mid-head: nothing to answer)
    }
  }

  /** Answers a request the parser refused, and ends the connection. */
  private async refuse(status: number, reason: string): Promise<number> {
    const body = `${reason}\n`;
    const text = `${statusLine(status)}${this.host.dateLine}connection: close\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    if (!this.out.tryWrite(text, 'latin1')) await this.out.write(Buffer.from(text, 'latin1'));
    return 0;
  }

  private wait(stage: number, timeout: number): void {
    this.stage = stage;
    this.deadline = timeout > 0 ? this.host.now + timeout : 0;
  }

  /** One request: sets it up and runs the handler; returns a promise only
   * if something is left to wait for (an async handler, a response not yet
   * ended or not yet buffered, a body to finish). */
  private serveOne(end: number): Promise<void> | undefined {
    const p = this.parser;
    this.headStart = this.pos;
    this.headEnd = end;
    this.headLive = true;
    this.advance(end - this.pos);
    this.req.reset(this.src);
    this.alive = p.keepAlive;
    this.minor = p.minor;
    const m = p.methodStart;
    this.isHead = p.methodEnd - m === 4 && this.src[m] === 0x48 && this.src[m + 1] === 0x45 && this.src[m + 2] === 0x41;
    this.bodyKind = p.bodyKind;
    this.bodyLeft = p.contentLength;
    this.bodyDone = p.bodyKind === BODY_NONE;
    this.bodyError = undefined;
    this.continueSent = false;
    this.decoder.reset();
    const res = this.res;
    res.reset(this);
    this.stage = HANDLER;
    this.deadline = 0;
    let ret: unknown;
    try {
      ret = this.host.handler(this.req, res);
    } catch (err) {
      return this.finish(Promise.reject(err));
    }
    if (isThenable(ret) || !res.finished || res.pending !== undefined || !this.bodyDone) return this.finish(ret);
    this.headLive = false;
    return undefined;
  }

  /** The rest of a request: the handler's promise, the end of its response, the body. */
  private async finish(ret: unknown): Promise<void> {
    const res = this.res;
    try {
      if (isThenable(ret)) await ret;
      if (!res.finished) await res.untilFinished();
    } catch (err) {
      this.handlerFailed(err);
    }
    if (res.pending !== undefined) {
      this.wait(SEND, this.host.limits.sendTimeout);
      await res.pending;
      this.wait(HANDLER, 0);
    }
    this.headLive = false;
    if (this.bodyError !== undefined) {
      this.keepAlive = false;
      return;
    }
    if (!this.bodyDone) await this.skipBody();
  }

  /** A handler threw (or its body could not be read): a 500 (or the body's status) if nothing was sent yet; the connection ends. */
  private handlerFailed(err: unknown): void {
    const res = this.res;
    this.keepAlive = false;
    const status = this.bodyError !== undefined ? (this.bodyError.status as number) : 500;
    if (!res.headersSent) {
      const body = status === 500 ? 'internal server error' : (this.bodyError?.message ?? '');
      res.status = status;
      res.end(body);
    } else if (!res.finished) res.finished = true;
    if (this.bodyError === undefined) this.host.error(err);
  }

  /** After the response: reads and drops what the handler left of the body,
   * or ends the connection when that is too much, or was never asked for. */
  private async skipBody(): Promise<void> {
    if (this.parser.expectContinue && !this.continueSent) {
      this.keepAlive = false; // the client waits for a 100 it will not get
      return;
    }
    if (this.bodyKind === BODY_LENGTH && this.bodyLeft > DRAIN_LIMIT) {
      this.keepAlive = false;
      return;
    }
    let dropped = 0;
    try {
      for (let chunk = await this.readBody(); chunk !== null; chunk = await this.readBody()) {
        dropped += chunk.length;
        if (dropped > DRAIN_LIMIT) {
          this.keepAlive = false;
          return;
        }
      }
    } catch {
      this.keepAlive = false;
    }
  }

  /** The body's next chunk (see `HttpRequest.read`). */
  async readBody(): Promise<Uint8Array | null> {
    if (this.bodyError !== undefined) throw this.bodyError;
    for (;;) {
      if (this.bodyDone) return null;
      const avail = this.end - this.pos;
      if (avail > 0) {
        if (this.bodyKind === BODY_LENGTH) {
          const n = Math.min(this.bodyLeft, avail);
          const chunk = this.buf.subarray(this.pos, this.pos + n);
          this.advance(n);
          this.bodyLeft -= n;
          if (this.bodyLeft === 0) this.bodyDone = true;
          return chunk;
        }
        const d = this.decoder;
        const next = d.next(this.buf, this.pos, this.end);
        if (next < 0) throw this.failBody(d.status, d.reason);
        const moved = next - this.pos;
        this.advance(moved);
        if (d.done) this.bodyDone = true;
        if (d.dataEnd > d.dataStart) return this.buf.subarray(d.dataStart, d.dataEnd);
        if (moved > 0) continue;
      }
      await this.fillBody();
    }
  }

  private async fillBody(): Promise<void> {
    const stage = this.stage;
    if (this.parser.expectContinue && !this.continueSent) {
      this.continueSent = true;
      if (!this.out.tryWrite(CONTINUE, 'latin1')) await this.out.write(Buffer.from(CONTINUE, 'latin1'));
    }
    if (this.out.buffered > 0) {
      this.wait(SEND, this.host.limits.sendTimeout);
      await this.out.flush();
    }
    this.keepHead();
    this.wait(BODY, this.host.limits.bodyTimeout);
    const n = await this.fill();
    this.stage = stage;
    this.deadline = 0;
    if (n === 0) throw this.failBody(400, 'the connection ended inside the request body');
  }

  private failBody(status: number, reason: string): PercoreError {
    const err = codedError('ERR_PERCORE_HTTP_BODY', reason);
    err.status = status;
    this.bodyError = err;
    this.bodyDone = true;
    return err;
  }

  /** Copies the current head aside before the buffer moves under it. */
  private keepHead(): void {
    if (!this.headLive) return;
    this.headLive = false;
    const n = this.headEnd - this.headStart;
    if (this.headCopy === undefined || this.headCopy.length < n) this.headCopy = Buffer.allocUnsafe(Math.max(n, 1024));
    this.src.copy(this.headCopy, 0, this.headStart, this.headEnd);
    this.parser.rebase(-this.headStart);
    this.req.src = this.headCopy;
  }

  /** Consumes `n` bytes. */
  private advance(n: number): void {
    this.pos += n;
  }

  /** Reads more after what is buffered, moving the unconsumed bytes to the
   * front first when the buffer's end is reached (a live head was copied
   * aside by then: `keepHead`). Resolves the bytes read, 0 at the end. */
  private async fill(): Promise<number> {
    const buf = this.buf;
    if (this.pos === this.end) this.pos = this.end = 0;
    else if (this.end === buf.length) {
      // Unreachable with a full buffer: a head that large is refused first, and body bytes are consumed before a read.
      if (this.pos === 0) throw codedError('ERR_PERCORE_ASSERTION', 'http: read buffer full');
      buf.copyWithin(0, this.pos, this.end);
      this.end -= this.pos;
      this.pos = 0;
    }
    const [n] = await this.stream.read(this.end === 0 ? buf : buf.subarray(this.end));
    this.end += n;
    return n;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Whether `b[from, end)` holds an empty line (CRLFCRLF): only then is a head worth parsing. */
function headComplete(b: Uint8Array, from: number, end: number): boolean {
  // The common case first: a request that ends where the bytes end.
  if (end - from >= 4 && b[end - 1] === LF && b[end - 2] === CR && b[end - 3] === LF && b[end - 4] === CR) return true;
  for (let i = from + 3; i < end; i++) {
    if (b[i] === LF && b[i - 1] === CR && b[i - 2] === LF && b[i - 3] === CR) return true;
  }
  return false;
}

/** The ways a connection ends that are the client's business, not an error to report. */
function quiet(err: unknown): boolean {
  const code = (err as PercoreError | null)?.code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ERR_SOCKET_CLOSED' ||
    code === 'ERR_PERCORE_RUNTIME_CLOSED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}
