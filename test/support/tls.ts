// A TLS key and a self-signed certificate for localhost and 127.0.0.1, made at
// test time with openssl (a CI dependency: .ci/run installs it), for the tests
// and doc examples that run node:tls over percore connections.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** Writes `key.pem` and `cert.pem` into `dir` and returns their paths. */
export function makeCertificate(dir: string): { keyPath: string; certPath: string } {
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { keyPath, certPath };
}
