// Two load generators no one here wrote, briefly (a correctness check, not a
// measurement): h2load --h1 pipelines 16 requests per connection, wrk keeps
// 16 connections busy. Every request must succeed, and every body must be
// whole (h2load counts bytes, wrk reports socket errors and non-2xx answers).
import { execFile } from 'node:child_process';
import { type Runtime, serve } from '../../src/index';
import { expectClean, makeRuntime } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

const SIXTEEN_K = Buffer.alloc(16384, 'x');

function run(tool: string, args: string[]): Promise<string> {
  // wrk and h2load (Debian nghttp2-client) are CI dependencies: .ci/run installs them.
  return new Promise((resolve, reject) =>
    execFile(tool, args, { encoding: 'utf8' }, (e, out, err) => (e ? reject(Object.assign(e, { err })) : resolve(out))),
  );
}

test('h2load --h1 -m 16 and wrk: every request answered, in order, whole', async () => {
  const server = await serve({}, (req, res) => res.end(req.path === '/16k' ? SIXTEEN_K : 'Hello, World!'));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    for (const path of ['/', '/16k']) {
      const out = await run('h2load', ['--h1', '-m', '16', '-c', '8', '-t', '1', '-n', '4000', `${base}${path}`]);
      expect(out).toMatch(
        /requests: 4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed, 0 errored, 0 timeout/,
      );
      expect(out).toMatch(/status codes: 4000 2xx/);
      const body = Number(/\((\d+)\) data/.exec(out)?.[1]);
      expect(body).toBe(4000 * (path === '/' ? 13 : 16384));
    }
    const wrk = await run('wrk', ['-t1', '-c16', '-d1s', `${base}/`]);
    expect(wrk).toMatch(/\d+ requests in/);
    expect(wrk).not.toMatch(/Socket errors|Non-2xx/);
  } finally {
    await server.close();
  }
});
