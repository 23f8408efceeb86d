// serve({ tls }): HTTPS through node:tls over percore connections (the
// bridge), checked with undici and curl; a client that does not speak TLS
// costs the server nothing but its connection.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { type Runtime, serve } from '../../src/index';
import { expectClean, makeRuntime, pattern } from '../support/helpers';
import { makeCertificate } from '../support/tls';

let rt: Runtime;
let dir: string;
let key: string;
let cert: string;
beforeAll(() => {
  rt = makeRuntime();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-https-'));
  const { keyPath, certPath } = makeCertificate(dir);
  key = fs.readFileSync(keyPath, 'utf8');
  cert = fs.readFileSync(certPath, 'utf8');
});
afterAll(() => {
  rt.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => expectClean(rt));

test('HTTPS: keep-alive requests, a 1 MiB echo, curl, and a plain-HTTP client refused without harm', async () => {
  const errors: unknown[] = [];
  const server = await serve({ tls: { key, cert }, onError: (e) => errors.push(e) }, async (req, res) => {
    if (req.method === 'POST') res.end(await req.bytes());
    else res.end(`secure ${req.path}`);
  });
  const port = server.address().port;
  const agent = new Agent({ connect: { ca: cert }, connections: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await request(`https://127.0.0.1:${port}/${i}`, { dispatcher: agent });
      expect(await r.body.text()).toBe(`secure /${i}`);
    }
    expect(server.connections).toBe(1);
    const big = pattern(1 << 20);
    const echo = await request(`https://127.0.0.1:${port}/echo`, { method: 'POST', body: big, dispatcher: agent });
    expect(Buffer.from(await echo.body.arrayBuffer()).equals(big)).toBe(true);

    const out = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '--cacert', path.join(dir, 'cert.pem'), `https://127.0.0.1:${port}/curl`], (e, o) =>
        e ? reject(e) : resolve(o),
      ),
    );
    expect(out).toBe('secure /curl');

    const plain = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', (d) => chunks.push(d));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    expect(plain).not.toContain('secure');
    const after = await request(`https://127.0.0.1:${port}/after`, { dispatcher: agent });
    expect(await after.body.text()).toBe('secure /after');
  } finally {
    await agent.close();
    await server.close();
  }
});
