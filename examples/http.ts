/**
 * An HTTP/1.1 server on `serve()`: `GET /` answers "Hello, World!" (13
 * bytes), `GET /16k` a 16 KiB body, `POST /echo` streams the request body
 * back (with its Content-Length when it had one, else chunked). One server
 * per thread: each binds the shared port with SO_REUSEPORT (`ctx.bind`) and
 * the kernel spreads connections among them.
 *
 *   node dist/examples/http.js --port 8080 --threads 1
 *   curl http://127.0.0.1:8080/ && curl --data-binary @README.md http://127.0.0.1:8080/echo
 *
 * Prints `listening on HOST:PORT (driver=…, threads=N, pid=P)` once every
 * thread listens; SIGINT/SIGTERM stop it as they stop the echo example:
 * requests in flight finish, idle connections close.
 */
import type { HttpHandler, HttpRequest, HttpResponse, ThreadContext } from '../src/index';
import { parseServerFlags, runServer, type ServerData } from './server-flags';

const HELLO = Buffer.from('Hello, World!');
const SIXTEEN_K = Buffer.alloc(16384, 'x');

// Not an async function: a handler that answers at once returns nothing to
// await, and the server then goes straight on to the next request.
export const handler: HttpHandler = (req, res) => {
  const path = req.path;
  if (path === '/') {
    res.setHeader('content-type', 'text/plain');
    res.end(HELLO);
  } else if (path === '/16k') {
    res.setHeader('content-type', 'application/octet-stream');
    res.end(SIXTEEN_K);
  } else if (path === '/echo' && req.method === 'POST') {
    return echo(req, res);
  } else {
    res.status = 404;
    res.end('not found\n');
  }
};

async function echo(req: HttpRequest, res: HttpResponse): Promise<void> {
  const length = req.contentLength;
  if (length !== undefined) res.setHeader('content-length', length);
  // Each chunk is a view of the read buffer: written (copied) before the next read.
  for await (const chunk of req) await res.write(chunk);
  res.end();
}

/** One thread of the server (run by the launcher on every thread). */
export async function main(ctx: ThreadContext<ServerData<Record<string, never>>>): Promise<void> {
  const listener = await ctx.bind({ host: ctx.data.host, port: ctx.data.port });
  const server = await ctx.percore.serve({ listener, signal: ctx.signal }, handler);
  ctx.ready({ ...server.address(), driver: ctx.runtime.driver, driverReason: ctx.runtime.driverReason });
  await new Promise((resolve) => {
    if (ctx.signal.aborted) resolve(undefined);
    else ctx.signal.addEventListener('abort', resolve, { once: true });
  });
  await server.close();
}

if (require.main === module) {
  const flags = parseServerFlags('http', process.argv.slice(2), 8080);
  // 32 KiB pool buffers (half as many: the same arena): a 16 KiB body and
  // its head fit one connection's write buffer, so they leave in one send.
  runServer('http', flags, __filename, {}, { bufferSize: 32768, buffers: 1024 }).catch((err) => {
    process.stderr.write(`http: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
