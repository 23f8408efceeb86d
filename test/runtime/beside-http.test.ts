// percore shares the thread with the rest of Node: node:http, Node timers, fs.

import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import { type Runtime, TcpListener, TcpStream } from '../../src/index';
import { expectClean, makeRuntime } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('a percore echo and a node:http server serve in the same thread at once', async () => {
  const web = http.createServer((req, res) => res.end(`hello ${req.url}`));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const webPort = (web.address() as { port: number }).port;

  const listener = await TcpListener.bind('127.0.0.1:0');
  const echo = (async () => {
    const s = await listener.accept();
    const buf = Buffer.alloc(64);
    for (let [n] = await s.read(buf); n > 0; [n] = await s.read(buf)) await s.writeAll(buf.subarray(0, n));
    await s.close();
  })();

  const client = await TcpStream.connect(listener.localAddress());
  for (let i = 0; i < 10; i++) {
    const [body, fileText] = await Promise.all([
      new Promise<string>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${webPort}/${i}`, (res) => {
            let text = '';
            res
              .on('data', (d) => {
                text += d;
              })
              .on('end', () => resolve(text));
          })
          .on('error', reject);
      }),
      fs.readFile(__filename, 'utf8'),
      client.writeAll(Buffer.from(`ping ${i}`)),
      new Promise((r) => setTimeout(r, 1)),
    ]);
    expect(body).toBe(`hello /${i}`);
    expect(fileText).toContain('node:http');
    const got = Buffer.alloc(`ping ${i}`.length);
    await client.readExact(got);
    expect(got.toString()).toBe(`ping ${i}`);
  }
  await client.close();
  await echo;
  await listener.close();
  await new Promise((r) => web.close(r));
});
