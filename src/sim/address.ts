// The 32-byte address record of the layout (docs/ARCHITECTURE.md, "Address
// record"), written and read by the simulation host as host/sockets.cc does
// for the native ones.
import { isIPv4, isIPv6 } from 'node:net';
import * as L from '../core/layout';

/** An IP literal and a port, as the simulated kernel keys its sockets. */
export interface Endpoint {
  ip: string;
  port: number;
}

/** The 16 bytes of an IPv6 literal (no scope), or undefined. */
function ipv6Bytes(ip: string): number[] | undefined {
  if (!isIPv6(ip)) return undefined;
  let text = ip;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}0:0`;
  }
  const [head, rest] = text.split('::');
  const groups = (s: string | undefined): number[] =>
    s
      ? s
          .split(':')
          .filter((g) => g !== '')
          .map((g) => parseInt(g, 16))
      : [];
  const a = groups(head);
  const b = groups(rest);
  const words = rest === undefined ? a : [...a, ...new Array(8 - a.length - b.length).fill(0), ...b];
  const out: number[] = [];
  for (const w of words) out.push(w >> 8, w & 0xff);
  if (tail.length === 4) out.splice(12, 4, ...tail);
  return out;
}

/** Writes `ip` (IPv4 or IPv6, optional `%scope`) and `port` into the record at `at`. 0 or -1 (not an IP literal). */
export function encodeRecord(u8: Uint8Array, at: number, ip: string, port: number): number {
  const [bare, scope] = ip.split('%');
  const dv = new DataView(u8.buffer, u8.byteOffset);
  u8.fill(0, at, at + L.ADDR_RECORD_SIZE);
  if (isIPv4(bare)) {
    dv.setUint16(at + L.ADDR_FAMILY, 4, true);
    bare.split('.').forEach((part, i) => {
      u8[at + L.ADDR_BYTES + i] = Number(part);
    });
  } else {
    const bytes = ipv6Bytes(bare);
    if (bytes === undefined) return -1;
    dv.setUint16(at + L.ADDR_FAMILY, 6, true);
    u8.set(bytes, at + L.ADDR_BYTES);
    if (scope !== undefined) dv.setUint32(at + L.ADDR_SCOPE_ID, Number(scope) >>> 0, true);
  }
  dv.setUint16(at + L.ADDR_PORT, port, true);
  return 0;
}

/** The record at `at` as an endpoint, or undefined when its family is neither 4 nor 6. */
export function decodeRecord(u8: Uint8Array, at: number): (Endpoint & { family: 4 | 6 }) | undefined {
  const dv = new DataView(u8.buffer, u8.byteOffset);
  const family = dv.getUint16(at + L.ADDR_FAMILY, true);
  const port = dv.getUint16(at + L.ADDR_PORT, true);
  const b = u8.subarray(at + L.ADDR_BYTES, at + L.ADDR_BYTES + 16);
  if (family === 4) return { family, ip: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`, port };
  if (family !== 6) return undefined;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] << 8) | b[i + 1]).toString(16));
  return { family, ip: compressIPv6(words), port };
}

/** The canonical text of eight hex groups (the longest run of zeros as `::`). */
function compressIPv6(words: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

/** Whether `ip` is a wildcard address (bind to every address of the host). */
export function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** Whether `ip` is a loopback address (the host itself). */
export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
