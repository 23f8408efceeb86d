/**
 * `serve()`: an HTTP/1.1 server on percore.
 *
 * ## The model
 * `serve(options, handler)` listens (or takes a listener you bound) and calls
 * `handler(req, res)` for each request, on this thread's runtime. Each
 * connection reads into a pool buffer and the request is parsed there
 * (`HttpParser`): nothing is decoded until the handler asks (`HttpRequest`),
 * and the response's head and body leave in one send (`HttpResponse`).
 * Keep-alive and pipelining (answers in order), Content-Length and chunked
 * bodies both ways, `Expect: 100-continue`, `HEAD` and HTTP/1.0 clients are
 * handled here; a malformed request is answered (400, 413, 417, 431, 501,
 * 505) and its connection closed.
 *
 * **Time.** One clock per server ticks a few times a second: it refreshes
 * the cached `Date` header and checks each connection's deadline. A client
 * gets `headersTimeout` ms to send a head once it started one,
 * `bodyTimeout` ms for each wait on body bytes the handler asked for (408,
 * then closed), an idle keep-alive connection is closed after
 * `keepAliveTimeout` ms, and one that stops taking its responses after
 * `sendTimeout` ms. So a slowloris client is cut off, and no request
 * arms a timer of its own.
 *
 * **TLS.** With `tls: { key, cert, … }` each connection is a `node:tls`
 * session over the percore connection (`toDuplex`/`fromDuplex`): HTTPS with
 * the same handler; the bytes are copied once each way by the bridge.
 *
 * **Threads.** `serve` runs on the thread it is called on. For one server per
 * core, `serveThreads(options, handlerModule)` starts it on every thread
 * (through `start()`), or call it from your own `start()` main with
 * `listener: await ctx.bind(…)` and `signal: ctx.signal` (examples/http.ts).
 *
 * **Shutdown.** `close()` (or `options.signal` aborting) stops accepting,
 * closes idle connections at once, lets requests in flight finish (their
 * responses say `connection: close`), and resolves when every connection is
 * gone; `close({ timeout })` closes what is still open after that long.
 *
 * ```ts
 * import { serve } from 'percore';
 * const server = await serve({ host: '127.0.0.1', port: 0 }, (req, res) => {
 *   res.setHeader('content-type', 'text/plain');
 *   res.end(req.path === '/' ? 'hello world' : 'elsewhere');
 * });
 * const { port } = server.address();
 * const reply = await fetch(`http://127.0.0.1:${port}/`);
 * console.log(await reply.text());   // hello world
 * await server.close();
 * ```
 */
import * as tls from 'node:tls';
import { fromDuplex, toDuplex } from '../bridge/duplex';
import { invalidArgType } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import type { SocketAddress } from '../net/address';
import { TcpListener } from '../net/tcp-listener';
import type { TcpStream } from '../net/tcp-stream';
import { Runtime } from '../runtime/runtime';
import { Connection, type ConnectionHost, type ServerLimits } from './connection';
import { DEFAULT_LIMITS, type HttpLimits } from './parser';
import type { HttpRequest } from './request';
import type { HttpResponse } from './response';

/** A request handler: answer with `res.end()` (now or later), or return a promise. */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

/** Options of `serve()`. */
export interface ServeOptions extends HttpLimits {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on (0: any free one). Default 0. */
  port?: number;
  /** A listener to serve instead of binding one (the server closes it). */
  listener?: TcpListener;
  /** The runtime to bind on. Default: `Runtime.current()`. */
  runtime?: Runtime;
  /** Ms a client has to finish a request head once begun. Default 20000. 0: no limit. */
  headersTimeout?: number;
  /** Ms a body read may wait for the client. Default 30000. 0: no limit. */
  bodyTimeout?: number;
  /** Ms an idle keep-alive connection stays open. Default 5000. 0: no limit. */
  keepAliveTimeout?: number;
  /** Ms the client may take to accept a response's bytes once the socket's
   * buffer is full (a client that stops reading). Default 30000. 0: no limit. */
  sendTimeout?: number;
  /** Serve HTTPS: TLS through `node:tls` over each percore connection (the
   * bridge), with these options (`key`, `cert`, …). */
  tls?: tls.TlsOptions;
  /** Aborting it closes the server gracefully (as `close()`). */
  signal?: AbortSignal;
  /** Called with a handler's error (its client got a 500) or a connection's
   * unexpected error. Default: printed to stderr. */
  onError?: (err: unknown) => void;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A running server (see the module docs). */
export class HttpServer implements ConnectionHost {
  /** @internal the limits and timeouts in force. */
  readonly limits: ServerLimits;
  dateLine = '';
  now = 0;
  closing = false;
  private readonly conns = new Set<Connection>();
  private readonly clock: NodeJS.Timeout;
  private second = -1;
  private readonly accepting: Promise<void>;
  private closed: Promise<void> | undefined;
  private allGone: (() => void) | undefined;
  private readonly onError: (err: unknown) => void;
  private readonly tls: tls.TlsOptions | undefined;

  /** @internal use `serve()`. */
  constructor(
    private readonly listener: TcpListener,
    readonly handler: HttpHandler,
    private readonly runtime: Runtime,
    options: ServeOptions,
  ) {
    this.tls = options.tls;
    const limits: ServerLimits = {
      maxHeaderSize: options.maxHeaderSize ?? DEFAULT_LIMITS.maxHeaderSize,
      maxHeaders: options.maxHeaders ?? DEFAULT_LIMITS.maxHeaders,
      maxBodySize: options.maxBodySize ?? DEFAULT_LIMITS.maxBodySize,
      headersTimeout: options.headersTimeout ?? 20000,
      bodyTimeout: options.bodyTimeout ?? 30000,
      keepAliveTimeout: options.keepAliveTimeout ?? 5000,
      sendTimeout: options.sendTimeout ?? 30000,
    };
    this.limits = limits;
    this.onError =
      options.onError ?? ((err) => process.stderr.write(`percore http: ${(err as Error)?.stack ?? err}\n`));
    const shortest = Math.min(
      ...[limits.headersTimeout, limits.bodyTimeout, limits.keepAliveTimeout, limits.sendTimeout].filter((t) => t > 0),
      4000,
    );
    this.tick();
    this.clock = setInterval(this.tick, Math.max(10, Math.min(1000, shortest >> 2)));
    this.clock.unref();
    this.accepting = this.accept();
  }

  /** The address the server listens on. */
  address(): SocketAddress {
    return this.listener.localAddress();
  }

  /** Connections open right now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Stops accepting, closes idle connections, lets requests in flight finish;
   * resolves once every connection is closed. With `timeout` (ms), connections
   * still open after it are closed under their requests. */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
    this.closing = true;
    const gone = new Promise<void>((resolve) => {
      this.allGone = resolve;
    });
    let force: NodeJS.Timeout | undefined;
    if (options.timeout !== undefined) {
      force = setTimeout(() => {
        for (const c of this.conns) void c.stream.close();
      }, options.timeout);
    }
    this.closed = (async () => {
      await this.listener.close();
      await this.accepting;
      for (const c of this.conns) c.closeIfIdle();
      if (this.conns.size > 0) await gone;
      clearInterval(this.clock);
      if (force !== undefined) clearTimeout(force);
    })();
    return this.closed;
  }

  /** @internal */
  error(err: unknown): void {
    this.onError(err);
  }

  /** @internal */
  remove(conn: Connection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.allGone !== undefined) this.allGone();
  }

  private async accept(): Promise<void> {
    try {
      for await (const stream of this.listener) {
        if (this.closing) {
          void stream.close();
          continue;
        }
        stream.setNoDelay(true);
        // Over TLS the connection's buffers still come from the pool (the bridge copies into them).
        const conn =
          this.tls === undefined
            ? new Connection(stream, this)
            : new Connection(this.secure(stream), this, this.runtime);
        this.conns.add(conn);
        void conn.run();
      }
    } catch (err) {
      if (!this.closing) this.onError(err);
    }
  }

  /** A TLS session over `stream`, as a rent stream: node:tls through the bridge. */
  private secure(stream: TcpStream) {
    const socket = new tls.TLSSocket(toDuplex(stream, { allowHalfOpen: true }), { ...this.tls, isServer: true });
    return fromDuplex(socket);
  }

  /** The clock: the Date header once a second, and every connection's deadline. */
  private readonly tick = (): void => {
    const now = Date.now();
    this.now = now;
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.dateLine = `date: ${httpDate(new Date(second * 1000))}\r\n`;
    }
    for (const c of this.conns) {
      if (c.deadline !== 0 && now >= c.deadline) c.expire();
      else if (this.closing) c.closeIfIdle();
    }
  };
}

/** IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
function httpDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${d.toUTCString().slice(5)}`;
}

/** Starts an HTTP/1.1 server on this thread's runtime (see the module docs). */
export async function serve(options: ServeOptions, handler: HttpHandler): Promise<HttpServer> {
  if (typeof handler !== 'function') throw invalidArgType('handler', 'a function', handler);
  for (const name of ['headersTimeout', 'bodyTimeout', 'keepAliveTimeout', 'sendTimeout'] as const) {
    if (options[name] !== undefined) validateInteger(options[name], `options.${name}`, 0, 2 ** 31 - 1);
  }
  if (options.maxHeaderSize !== undefined) validateInteger(options.maxHeaderSize, 'options.maxHeaderSize', 64, 1 << 24);
  if (options.maxHeaders !== undefined) validateInteger(options.maxHeaders, 'options.maxHeaders', 1, 65536);
  if (options.maxBodySize !== undefined)
    validateInteger(options.maxBodySize, 'options.maxBodySize', 0, Number.MAX_SAFE_INTEGER);
  const runtime = options.runtime ?? Runtime.current();
  const listener =
    options.listener ??
    (await TcpListener.bind({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, { runtime }));
  const server = new HttpServer(listener, handler, runtime, options);
  const signal = options.signal;
  if (signal !== undefined) {
    if (signal.aborted) void server.close();
    else signal.addEventListener('abort', () => void server.close(), { once: true });
  }
  return server;
}
