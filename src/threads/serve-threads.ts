/**
 * `serveThreads(options, handlerModule)`: `serve()` on every core.
 *
 * ## The model
 * One HTTP server per thread, each on its own runtime, each with its own
 * SO_REUSEPORT listener on the same port (`ctx.bind`): the kernel spreads
 * connections among them and nothing is shared. A handler cannot cross
 * threads, so each thread `require`s `handlerModule` (a path to a CommonJS
 * module exporting `handler`, a default function, or being the function) and
 * serves with it. The rest of `options` is `start()`'s (threads, pinning,
 * signals, shutdown timeout, runtime sizes) and `serve()`'s (host, port,
 * limits, timeouts, tls). Shutdown (a signal, or `stop()` on the returned
 * promise) closes every server gracefully.
 *
 * ```ts
 * import * as fs from 'node:fs';
 * import * as os from 'node:os';
 * import * as path from 'node:path';
 * import { serveThreads } from 'percore';
 * const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'app-')), 'app.js');
 * fs.writeFileSync(file, 'exports.handler = (req, res) => res.end("hello from a thread");');
 * const launch = serveThreads(
 *   { threads: 2, port: 0, onReady: ([first]) => {
 *     console.log(first);   // { address: '127.0.0.1', port: …, family: 'IPv4' }
 *     launch.stop();        // a graceful shutdown, as SIGTERM with `signals: true`
 *   } },
 *   file,
 * );
 * await launch;
 * ```
 */
import * as path from 'node:path';
import { invalidArgValue } from '../errors/errors';
import type { ServeOptions } from '../http/server';
import { type Launch, type StartOptions, start, type ThreadContext } from './launcher';

/** The options `serve()` takes that can cross to a thread. */
const SERVE_KEYS = [
  'host',
  'port',
  'maxHeaderSize',
  'maxHeaders',
  'maxBodySize',
  'headersTimeout',
  'bodyTimeout',
  'keepAliveTimeout',
  'sendTimeout',
  'tls',
] as const;

type ThreadServeOptions = Pick<ServeOptions, (typeof SERVE_KEYS)[number]>;

/** Options of `serveThreads`: `start()`'s (but `data`) and `serve()`'s that cross threads. */
export interface ServeThreadsOptions extends Omit<StartOptions, 'data'>, ThreadServeOptions {}

interface HttpThreadData {
  module: string;
  serve: ThreadServeOptions;
}

/** Starts `serve()` on `options.threads` threads (see the module docs). Each
 * thread's `ready` info (for `onReady`) is its address. */
export function serveThreads(options: ServeThreadsOptions, handlerModule: string): Launch {
  let module: string;
  try {
    module = require.resolve(path.resolve(handlerModule));
  } catch {
    throw invalidArgValue('handlerModule', handlerModule, 'is not a module percore can load');
  }
  const startOptions: Record<string, unknown> = { ...options };
  const serve: Record<string, unknown> = {};
  for (const key of SERVE_KEYS) {
    if (options[key] !== undefined) serve[key] = options[key];
    delete startOptions[key];
  }
  const data: HttpThreadData = { module, serve: serve as ThreadServeOptions };
  return start<HttpThreadData>({ ...(startOptions as Omit<StartOptions, 'data'>), data }, httpThread);
}

/** Each thread's main. Sent to the workers as source text: it uses only `ctx` and `require`. */
async function httpThread(ctx: ThreadContext<HttpThreadData>): Promise<void> {
  const mod = require(ctx.data.module);
  const handler = typeof mod === 'function' ? mod : (mod.handler ?? mod.default);
  if (typeof handler !== 'function') throw new TypeError(`${ctx.data.module} exports no handler function`);
  const options = ctx.data.serve;
  const listener = await ctx.bind({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const server = await ctx.percore.serve({ ...options, listener, signal: ctx.signal }, handler);
  ctx.ready(server.address());
  await new Promise((resolve) => {
    if (ctx.signal.aborted) resolve(undefined);
    else ctx.signal.addEventListener('abort', resolve, { once: true });
  });
  await server.close();
}
