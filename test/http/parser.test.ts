// The request-head parser and the chunked decoder, alone (no I/O): what RFC
// 9112 asks of a server receiving requests, the malformed requests of §2–§7
// and the smuggling cases of §11.2, each answered with its status.
import fc from 'fast-check';
import { ChunkedDecoder } from '../../src/http/chunked';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, HttpParser } from '../../src/http/parser';

function parse(text: string, limits = {}): { parser: HttpParser; end: number } {
  const parser = new HttpParser(limits);
  const b = Buffer.from(text, 'latin1');
  return { parser, end: parser.parse(b, 0, b.length) };
}

function refused(text: string, limits = {}): number {
  const { parser, end } = parse(text, limits);
  expect(end).toBe(-1);
  return parser.status;
}

describe('well-formed heads', () => {
  test('offsets of the request line and of each header, body framing, keep-alive', () => {
    const text =
      'POST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\nContent-Length: 5\r\nX-Pad:  v w \t\r\n\r\nhello';
    const { parser: p, end } = parse(text);
    const b = Buffer.from(text, 'latin1');
    expect(end).toBe(text.indexOf('hello'));
    expect(b.toString('latin1', p.methodStart, p.methodEnd)).toBe('POST');
    expect(b.toString('latin1', p.targetStart, p.targetEnd)).toBe('/a/b?c=d');
    expect(p.headerCount).toBe(4);
    const h = (i: number) => [
      b.toString('latin1', p.headers[i * 4], p.headers[i * 4 + 1]),
      b.toString('latin1', p.headers[i * 4 + 2], p.headers[i * 4 + 3]),
    ];
    expect([0, 1, 2, 3].map(h)).toEqual([
      ['Host', 'example.com'],
      ['X-Empty', ''],
      ['Content-Length', '5'],
      ['X-Pad', 'v w'],
    ]);
    expect(p.bodyKind).toBe(BODY_LENGTH);
    expect(p.contentLength).toBe(5);
    expect(p.keepAlive).toBe(true);
  });

  test('every prefix of a head is incomplete (0), never an error', () => {
    const text = 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (let n = 0; n < text.length; n++) expect(parse(text.slice(0, n)).end).toBe(0);
    expect(parse(text).parser.bodyKind).toBe(BODY_CHUNKED);
  });

  test('HTTP/1.0 closes unless keep-alive is asked; HTTP/1.1 keeps alive unless close is', () => {
    expect(parse('GET / HTTP/1.0\r\n\r\n').parser.keepAlive).toBe(false);
    expect(parse('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').parser.keepAlive).toBe(true);
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n').parser.keepAlive).toBe(false);
    expect(parse('GET / HTTP/1.0\r\n\r\n').parser.minor).toBe(0);
  });

  test('empty lines before the request line are skipped (§2.2); identical Content-Length values are one (§6.3)', () => {
    expect(parse('\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n').end).toBeGreaterThan(0);
    const dup = parse('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n').parser;
    expect(dup.contentLength).toBe(3);
    expect(parse('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n').parser.contentLength).toBe(3);
    expect(parse('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n').parser.bodyKind).toBe(BODY_NONE);
  });

  test('Expect: 100-continue is noted; a later 1.x version is served as 1.1', () => {
    expect(parse('PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n').parser.expectContinue).toBe(true);
    expect(parse('GET / HTTP/1.2\r\nHost: x\r\n\r\n').parser.minor).toBe(1);
  });
});

describe('malformed heads: 400 and the reason (RFC 9112)', () => {
  test.each([
    ['a method with a non-token character (§3.1)', 'G(T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an empty method', ' / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two spaces in the request line (§3)', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['whitespace in the request target (§3.2)', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a control character in the target', 'GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a malformed version (§2.3)', 'GET / HTTP/1.x\r\nHost: x\r\n\r\n'],
    ['a lower-case version name', 'GET / http/1.1\r\nHost: x\r\n\r\n'],
    ['bare LF line ends (strict CRLF)', 'GET / HTTP/1.1\nHost: x\n\n'],
    ['a bare CR in the request line (§2.2)', 'GET / HTTP/1.1\rHost: x\r\n\r\n'],
    ['a bare CR in a field value (§2.2)', 'GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n'],
    ['a NUL in a field value (§5.5)', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n'],
    ['a DEL in a field value', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n'],
    ['whitespace between a field name and the colon (§5.1)', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['a field name with a non-token character', 'GET / HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n'],
    ['an empty field name', 'GET / HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n'],
    ['a line without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n'],
    ['obsolete line folding (§5.2)', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n'],
    ['whitespace before the first field (§2.2)', 'GET / HTTP/1.1\r\n Host: x\r\n\r\n'],
    ['no Host in HTTP/1.1 (RFC 9110 §7.2)', 'GET / HTTP/1.1\r\n\r\n'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'],
  ])('%s', (_what, text) => {
    expect(refused(text)).toBe(400);
  });
});

describe('request smuggling defences (§6.1, §6.3, §11.2): 400', () => {
  test.each([
    [
      'Content-Length and Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    [
      'Transfer-Encoding then Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    ],
    ['differing Content-Length fields', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'],
    ['a Content-Length list of differing values', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n'],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n'],
    ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
    ['a Content-Length with a letter', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a\r\n\r\n'],
    ['an empty Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n'],
    ['a Content-Length beyond 2^53', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999\r\n\r\n'],
    ['a final coding that is not chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['chunked, then another coding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'],
    ['chunked twice', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['a near-miss of chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n'],
    ['chunked with a vertical tab before it', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n'],
    ['an empty Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n'],
    ['Transfer-Encoding in an HTTP/1.0 request', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ])('%s', (_what, text) => {
    expect(refused(text)).toBe(400);
  });

  test('a coding we do not implement before chunked: 501', () => {
    expect(refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')).toBe(501);
  });
});

describe('limits and other statuses', () => {
  test('more header fields than maxHeaders: 431', () => {
    const fields = Array.from({ length: 5 }, (_, i) => `X-${i}: ${i}\r\n`).join('');
    expect(refused(`GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, { maxHeaders: 5 })).toBe(431);
    expect(parse(`GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, { maxHeaders: 6 }).end).toBeGreaterThan(0);
  });
  test('a head larger than maxHeaderSize: 431', () => {
    expect(refused(`GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(200)}\r\n\r\n`, { maxHeaderSize: 128 })).toBe(431);
  });
  test('a declared body larger than maxBodySize: 413', () => {
    expect(refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n', { maxBodySize: 100 })).toBe(413);
  });
  test('HTTP/2.0 and HTTP/0.9-style versions: 505', () => {
    expect(refused('GET / HTTP/2.0\r\nHost: x\r\n\r\n')).toBe(505);
    expect(refused('GET / HTTP/0.9\r\nHost: x\r\n\r\n')).toBe(505);
  });
  test('an expectation other than 100-continue: 417', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n')).toBe(417);
  });
});

/** Decodes `wire` fed in pieces cut at `cuts`; returns the body or the error status. */
function decodeChunked(
  wire: Buffer,
  cuts: number[],
  maxBody = 1 << 20,
): { body?: Buffer; status?: number; rest?: number } {
  const d = new ChunkedDecoder(maxBody, 1024);
  const out: Buffer[] = [];
  let p = 0;
  const ends = [...cuts.filter((c) => c > 0 && c < wire.length).sort((a, b) => a - b), wire.length];
  for (const end of ends) {
    for (;;) {
      const q = d.next(wire, p, end);
      if (q < 0) return { status: d.status };
      if (d.dataEnd > d.dataStart) out.push(wire.subarray(d.dataStart, d.dataEnd));
      const moved = q !== p;
      p = q;
      if (d.done) return { body: Buffer.concat(out), rest: wire.length - p };
      if (!moved && d.dataEnd === d.dataStart) break;
    }
  }
  return {};
}

describe('the chunked decoder (§7.1)', () => {
  const wire = Buffer.from(
    '5;ext=1;q="a b"\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: t\r\n\r\nNEXT',
    'latin1',
  );

  test('decodes data, skips extensions and trailers, stops at the end of the body', () => {
    expect(decodeChunked(wire, [])).toEqual({ body: Buffer.from('hello world!'), rest: 4 });
  });

  test('gives the same body however the bytes are split (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 8 }), (cuts) => {
        expect(decodeChunked(wire, cuts)).toEqual({ body: Buffer.from('hello world!'), rest: 4 });
      }),
    );
  });

  test.each([
    ['a size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n', 400],
    ['a size with a sign', '-5\r\nhello\r\n0\r\n\r\n', 400],
    ['a size that overflows 2^53', 'fffffffffffffffff\r\n', 400],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n', 400],
    ['a bare CR after the size', '5\rhello\r\n0\r\n\r\n', 400],
    ['data longer than its size', '5\r\nhelloXX\r\n0\r\n\r\n', 400],
    ['data not followed by CRLF', '5\r\nhello\n0\r\n\r\n', 400],
    ['a control character in an extension', '5;a\x01\r\nhello\r\n0\r\n\r\n', 400],
    ['a malformed trailer', '0\r\nnot a field\r\n\r\n', 400],
    ['a body over maxBodySize', 'ff\r\n', 413],
  ])('%s', (_what, text, status) => {
    expect(decodeChunked(Buffer.from(text, 'latin1'), [], 100).status).toBe(status);
  });
});

describe('properties of the head parser', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
  const path = fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/);

  test('a generated request parses back to its parts, and each prefix of it is incomplete', () => {
    fc.assert(
      fc.property(
        token,
        path,
        fc.array(
          fc.tuple(
            token.map((t) => `x-${t}`),
            value,
          ),
          { maxLength: 10 },
        ),
        (method, target, fields) => {
          const text = `${method} ${target} HTTP/1.1\r\nHost: h\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
          const b = Buffer.from(text, 'latin1');
          const p = new HttpParser();
          expect(p.parse(b, 0, b.length)).toBe(b.length);
          expect(b.toString('latin1', p.methodStart, p.methodEnd)).toBe(method);
          expect(b.toString('latin1', p.targetStart, p.targetEnd)).toBe(target);
          expect(p.headerCount).toBe(fields.length + 1);
          fields.forEach(([n, v], i) => {
            const j = (i + 1) * 4;
            expect(b.toString('latin1', p.headers[j], p.headers[j + 1])).toBe(n);
            expect(b.toString('latin1', p.headers[j + 2], p.headers[j + 3])).toBe(v);
          });
          const cut = Math.floor(b.length / 2);
          expect(p.parse(b, 0, cut)).toBe(0);
        },
      ),
    );
  });

  test('arbitrary bytes never throw: the result is incomplete, an error with a status, or a head end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, prefixed) => {
        const head = Buffer.concat([Buffer.from(prefixed ? 'GET / HTTP/1.1\r\n' : ''), bytes, Buffer.from('\r\n\r\n')]);
        const p = new HttpParser();
        const end = p.parse(head, 0, head.length);
        if (end < 0) expect([400, 413, 417, 431, 501, 505]).toContain(p.status);
        else expect(end).toBeLessThanOrEqual(head.length);
      }),
    );
  });
});
