// The `Request` the fetch adapter hands an app: `url`, `method` and `headers`
// come straight from the parsed head (the headers built on first use), and
// the real `Request` (undici's, costly to build) is made only when the app
// touches anything else: the body, `signal`, `clone()`, … Its prototype chain
// goes through Request.prototype, so `instanceof Request` holds.
import type { HttpRequest } from './request';

export class LightRequest {
  private real: Request | undefined;
  private headerList: Headers | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    private readonly req: HttpRequest,
  ) {}

  get headers(): Headers {
    if (this.headerList === undefined) {
      const headers = new Headers();
      const req = this.req;
      for (let i = 0; i < req.headerCount; i++) headers.append(req.headerName(i), req.headerValue(i));
      this.headerList = headers;
    }
    return this.headerList;
  }

  /** The real Request, made on first need; its body reads the connection as it is consumed. */
  realRequest(): Request {
    if (this.real !== undefined) return this.real;
    const { method, url, req } = this;
    const headers = this.headers;
    if (!req.hasBody || method === 'GET' || method === 'HEAD') {
      this.real = new Request(url, { method, headers });
      return this.real;
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await req.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk.slice()); // the view's bytes move on with the next read: a copy
      },
    });
    this.real = new Request(url, { method, headers, body, duplex: 'half' } as RequestInit);
    return this.real;
  }
}

// Everything else of Request's interface, delegated to the real one.
for (const key of Object.getOwnPropertyNames(Request.prototype)) {
  if (key === 'constructor' || key === 'method' || key === 'url' || key === 'headers') continue;
  const desc = Object.getOwnPropertyDescriptor(Request.prototype, key);
  if (desc === undefined) continue;
  const real = (self: LightRequest) => self.realRequest() as unknown as Record<string, unknown>;
  Object.defineProperty(
    LightRequest.prototype,
    key,
    typeof desc.value === 'function'
      ? {
          value(this: LightRequest, ...args: unknown[]) {
            return (real(this)[key] as (...a: unknown[]) => unknown)(...args);
          },
        }
      : {
          get(this: LightRequest) {
            return real(this)[key];
          },
        },
  );
}
Object.setPrototypeOf(LightRequest.prototype, Request.prototype);
