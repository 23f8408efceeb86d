/**
 * `fetchHandler(app)`: serves a Web-standard `fetch(request) => Response`
 * application (Hono, itty-router, a plain function) on `serve()`.
 *
 * ## The model
 * For each request a `Request` is made from the parsed head (URL from the
 * `Host` header and the target; the headers; the body as a stream that reads
 * the connection only as the app consumes it): a light one whose `url`,
 * `method` and `headers` cost next to nothing, backed by a real `Request`
 * built only if the app touches more (the body, `signal`, …). The app's `fetch` is called,
 * and its `Response` is written back: a body that arrives as one chunk
 * (`c.text()`, `c.json()`, any string or buffer body) goes out with its
 * `Content-Length` in one send, a longer stream goes out chunked, each chunk
 * written as it comes.
 *
 * ```ts
 * import { fetchHandler, serve } from 'percore';
 * const app = { fetch: (request: Request) => new Response(`hello ${new URL(request.url).pathname}`) };
 * const server = await serve({ port: 0 }, fetchHandler(app));
 * const reply = await fetch(`http://127.0.0.1:${server.address().port}/there`);
 * console.log(await reply.text());   // hello /there
 * await server.close();
 * ```
 */
import { invalidArgType } from '../errors/errors';
import { LightRequest } from './light-request';
import type { HttpRequest } from './request';
import type { HttpResponse } from './response';
import type { HttpHandler } from './server';

/** A fetch-style application: an object with `fetch` (Hono's `app`), or the function itself. */
export type FetchApp =
  | { fetch(request: Request): Response | Promise<Response> }
  | ((request: Request) => Response | Promise<Response>);

/** Headers the server writes itself (framing), never copied from the app's Response. */
const OWN = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/** A `serve()` handler that runs `app` (see the module docs). */
export function fetchHandler(app: FetchApp): HttpHandler {
  const call =
    typeof app === 'function'
      ? app
      : typeof app === 'object' && app !== null && typeof app.fetch === 'function'
        ? (request: Request) => app.fetch(request)
        : undefined;
  if (call === undefined) throw invalidArgType('app', 'a function or an object with fetch()', app);
  return async (req, res) => {
    const response = await call(toRequest(req));
    await writeResponse(response, req, res);
  };
}

function toRequest(req: HttpRequest): Request {
  const target = req.url;
  const url = target.charCodeAt(0) === 0x2f ? `http://${req.header('host') ?? 'localhost'}${target}` : target;
  return new LightRequest(req.method, url, req) as unknown as Request;
}

async function writeResponse(response: Response, req: HttpRequest, res: HttpResponse): Promise<void> {
  res.status = response.status;
  let length: string | undefined;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    if (name === 'content-length') length = value;
    else if (!OWN.has(name)) res.setHeader(name, value);
  }
  for (const cookie of response.headers.getSetCookie()) res.setHeader('set-cookie', cookie);
  const body = response.body;
  if (body === null) {
    if (length !== undefined) res.setHeader('content-length', length);
    res.end();
    return;
  }
  // HEAD: the body's length in the head, not the body (the response drops it).
  if (req.method === 'HEAD') return res.end(new Uint8Array(await response.arrayBuffer()));
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) return res.end();
  const second = await reader.read();
  if (second.done) return res.end(first.value); // one chunk: one send, with its length
  if (length !== undefined) res.setHeader('content-length', length);
  await res.write(first.value);
  await res.write(second.value);
  for (let next = await reader.read(); !next.done; next = await reader.read()) await res.write(next.value);
  res.end();
}
