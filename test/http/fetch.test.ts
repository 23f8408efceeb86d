// The fetch adapter: a small Hono app, unchanged, served by serve().
import { Hono } from 'hono';
import { request } from 'undici';
import { fetchHandler, type Runtime, serve } from '../../src/index';
import { expectClean, makeRuntime, pattern } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

function honoApp(): Hono {
  const app = new Hono();
  app.get('/', (c) => c.text('Hello Hono!'));
  app.get('/users/:id', (c) =>
    c.json({ id: c.req.param('id'), sort: c.req.query('sort'), agent: c.req.header('x-agent') }),
  );
  app.post('/echo', async (c) => c.body(await c.req.arrayBuffer(), 201, { 'x-echoed': 'yes' }));
  app.get('/cookies', (c) => {
    c.header('set-cookie', 'a=1', { append: true });
    c.header('set-cookie', 'b=2', { append: true });
    return c.text('two cookies');
  });
  app.get('/stream', () => {
    const parts = ['one ', 'two ', 'three'];
    const body = new ReadableStream({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.onError((err, c) => c.text(`caught ${err.message}`, 500));
  return app;
}

test('a Hono app runs unchanged: routes, params, query, headers, bodies both ways, cookies, streams, errors', async () => {
  const server = await serve({ onError: () => {} }, fetchHandler(honoApp()));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const hello = await request(`${base}/`);
    expect(hello.statusCode).toBe(200);
    expect(hello.headers['content-length']).toBe('11');
    expect(await hello.body.text()).toBe('Hello Hono!');

    const user = await request(`${base}/users/42?sort=desc`, { headers: { 'x-agent': 'test' } });
    expect(user.headers['content-type']).toMatch(/^application\/json/);
    expect(await user.body.json()).toEqual({ id: '42', sort: 'desc', agent: 'test' });

    const payload = pattern(300_000);
    const echo = await request(`${base}/echo`, { method: 'POST', body: payload });
    expect(echo.statusCode).toBe(201);
    expect(echo.headers['x-echoed']).toBe('yes');
    expect(Buffer.from(await echo.body.arrayBuffer()).equals(payload)).toBe(true);

    const cookies = await request(`${base}/cookies`);
    expect(cookies.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    await cookies.body.text();

    const stream = await request(`${base}/stream`);
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(await stream.body.text()).toBe('one two three');

    const missing = await request(`${base}/nowhere`);
    expect(missing.statusCode).toBe(404);
    await missing.body.text();

    const boom = await request(`${base}/boom`);
    expect(boom.statusCode).toBe(500); // through the app's onError
    expect(await boom.body.text()).toBe('caught boom');
  } finally {
    await server.close();
  }
});

test('a plain function app, and a HEAD request that gets the length but no body', async () => {
  const app = (req: Request) =>
    req.url.endsWith('/kind')
      ? new Response(`${req instanceof Request} ${req.signal instanceof AbortSignal} ${req.clone().method}`)
      : new Response(`you asked for ${new URL(req.url).pathname}`);
  const server = await serve({}, fetchHandler(app));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const got = await request(`${base}/x`);
    expect(await got.body.text()).toBe('you asked for /x');
    // The light Request is a Request: what it does not hold itself comes from a real one.
    const kind = await request(`${base}/kind`);
    expect(await kind.body.text()).toBe('true true GET');
    const head = await request(`${base}/x`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('16');
    expect(await head.body.text()).toBe('');
  } finally {
    await server.close();
  }
});
