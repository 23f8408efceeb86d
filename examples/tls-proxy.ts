/**
 * A TLS-terminating proxy: percore accepts the connection, `node:tls`
 * decrypts over it (`toDuplex`), and the cleartext is relayed to an upstream
 * percore connection with `copy()` both ways (`fromDuplex` makes the TLS
 * socket a rent stream), each direction passing the half-close on.
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
 *     -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost
 *   node dist/examples/tls-proxy.js --port 8443 --upstream 127.0.0.1:8080 --cert cert.pem --key key.pem
 *   curl --cacert cert.pem https://localhost:8443/
 *
 * Same flags and ready line as the echo example, plus --upstream, --cert, --key.
 */
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { copy, fromDuplex, type PercoreError, TcpStream, type ThreadContext, toDuplex } from '../src/index';
import { parseServerFlags, runServer, type ServerData, serveThread } from './server-flags';

interface ProxyData {
  upstream: string;
  certFile: string;
  keyFile: string;
}

export async function proxy(stream: TcpStream, upstream: string, context: tls.SecureContext): Promise<void> {
  stream.setNoDelay(true);
  // TLS writes after the client's FIN (close_notify): keep the duplex half-open.
  const secure = new tls.TLSSocket(toDuplex(stream, { allowHalfOpen: true }), {
    isServer: true,
    secureContext: context,
  });
  const failed = new Promise<never>((_, reject) => secure.once('error', reject));
  failed.catch(() => {});
  let up: TcpStream | undefined;
  try {
    await Promise.race([new Promise((resolve) => secure.once('secure', resolve)), failed]);
    up = await TcpStream.connect(upstream, { noDelay: true });
    const clear = fromDuplex(secure);
    await Promise.race([Promise.all([copy(clear, up, { end: true }), copy(up, clear, { end: true })]), failed]);
  } catch (err) {
    const code = (err as PercoreError).code;
    if (
      code !== 'ECONNRESET' &&
      code !== 'EPIPE' &&
      code !== 'ERR_SOCKET_CLOSED' &&
      code !== 'ERR_STREAM_PREMATURE_CLOSE'
    )
      process.stderr.write(`tls-proxy: ${(err as Error).message}\n`);
  } finally {
    secure.destroy();
    await up?.close();
  }
}

export async function main(ctx: ThreadContext<ServerData<ProxyData>>): Promise<void> {
  const { upstream, certFile, keyFile } = ctx.data.options;
  const context = tls.createSecureContext({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
  await serveThread(ctx, (stream) => proxy(stream, upstream, context));
}

if (require.main === module) {
  const flags = parseServerFlags('tls-proxy', process.argv.slice(2), 8443, [
    { name: 'upstream', value: true, usage: '--upstream HOST:PORT    where the cleartext goes (required)' },
    { name: 'cert', value: true, usage: '--cert FILE             the certificate, PEM (required)' },
    { name: 'key', value: true, usage: '--key FILE              its private key, PEM (required)' },
  ]);
  const { upstream, cert, key } = flags.extra;
  if (!upstream || !cert || !key) {
    process.stderr.write('tls-proxy: --upstream, --cert and --key are required\n');
    process.exit(2);
  }
  runServer<ProxyData>('tls-proxy', flags, __filename, { upstream, certFile: cert, keyFile: key }).catch((err) => {
    process.stderr.write(`tls-proxy: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
