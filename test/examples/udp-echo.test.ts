// The UDP echo example as a user runs it: a separate process, served by a
// node:dgram client (not percore's own), every byte checked, stopped by SIGTERM.
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as path from 'node:path';
import { pattern } from '../support/helpers';

const UDP_ECHO = path.resolve(__dirname, '../../dist/examples/udp-echo.js');

test('echoes every datagram to its sender, whole, and says how many on SIGTERM', async () => {
  const child = spawn(process.execPath, [UDP_ECHO, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  try {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    while (!/^listening on 127\.0\.0\.1:(\d+) udp$/m.test(out)) await once(child.stdout!, 'data');
    const port = Number(/:(\d+) udp/.exec(out)![1]);
    const client = dgram.createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    const sizes = [1, 64, 1400, 4000];
    for (const [i, size] of sizes.entries()) {
      const payload = pattern(size, i + 1);
      const reply = once(client, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
      client.send(payload, port, '127.0.0.1');
      const [msg, from] = await reply;
      expect(msg.equals(payload)).toBe(true);
      expect(from.port).toBe(port);
    }
    client.close();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out).toMatch(/echoed 4 datagrams \(0 truncated\)/);
  } finally {
    child.kill('SIGKILL');
  }
});
