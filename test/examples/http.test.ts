// examples/http.ts as users run it: a separate process with two threads,
// served by undici and curl.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { request } from 'undici';
import { pattern } from '../support/helpers';

const EXAMPLE = path.resolve(__dirname, '../../dist/examples/http.js');

describe('examples/http', () => {
  let child: ChildProcess;
  let port: number;
  let line: string;

  beforeAll(async () => {
    child = spawn(process.execPath, [EXAMPLE, '--port', '0', '--threads', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
    });
    line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`http exited with ${code}: ${err}`)));
    });
    port = Number(/^listening on 127\.0\.0\.1:(\d+) \(driver=\S+, threads=2, pid=\d+\)$/.exec(line)?.[1]);
  });

  test('prints its ready line', () => {
    expect(port).toBeGreaterThan(0);
  });

  test('hello world on /, 16 KiB on /16k, an echo of 256 KiB on POST /echo, 404 elsewhere', async () => {
    const hello = await request(`http://127.0.0.1:${port}/`);
    expect(await hello.body.text()).toBe('Hello, World!');
    const big = await request(`http://127.0.0.1:${port}/16k`);
    expect((await big.body.arrayBuffer()).byteLength).toBe(16384);
    const payload = pattern(256 << 10);
    const echo = await request(`http://127.0.0.1:${port}/echo`, { method: 'POST', body: payload });
    expect(echo.headers['content-length']).toBe(String(payload.length));
    expect(Buffer.from(await echo.body.arrayBuffer()).equals(payload)).toBe(true);
    const missing = await request(`http://127.0.0.1:${port}/nowhere`);
    expect(missing.statusCode).toBe(404);
    await missing.body.text();
  });

  test('curl: a chunked upload is echoed chunked', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'curl',
        ['-sS', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'percore', `http://127.0.0.1:${port}/echo`],
        (e, o) => (e ? reject(e) : resolve(o)),
      ),
    );
    expect(out).toBe('percore');
  });

  afterAll(async () => {
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
