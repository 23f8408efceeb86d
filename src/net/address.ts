// Socket addresses as the API takes and gives them. Parsing and name lookup
// happen here; the host turns an IP literal into the neutral address record.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { codedError, invalidArgType, systemError } from '../errors/errors';

/** An address as `localAddress()` and `peerAddress()` report it, like node:net's. */
export interface SocketAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Where to bind or connect: `'127.0.0.1:8080'`, `'[::1]:8080'`, `'localhost:8080'`,
 * a port number alone (host `127.0.0.1`), `{ host, port }`, or a
 * `SocketAddress` as `localAddress()` and `recvFrom()` give it. */
export type AddressInput = string | number | { host?: string; port: number } | SocketAddress;

/** An address ready for the host: an IP literal, its family and a port. */
export interface ResolvedAddress {
  ip: string;
  family: 4 | 6;
  port: number;
}

const DEFAULT_HOST = '127.0.0.1';

/** Splits and checks `input` synchronously; the host part may still be a name. */
export function parseAddress(input: AddressInput, name = 'address'): { host: string; port: number } {
  if (typeof input === 'number') return { host: DEFAULT_HOST, port: validatePort(input) };
  if (typeof input === 'string') {
    const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(input);
    if (bracketed) return { host: bracketed[1], port: validatePort(Number(bracketed[2])) };
    const colon = input.lastIndexOf(':');
    if (colon <= 0 || input.indexOf(':') !== colon) {
      throw codedError(
        'ERR_INVALID_ARG_VALUE',
        `The argument '${name}' must be 'host:port' or '[ipv6]:port'. Received '${input}'`,
        TypeError,
      );
    }
    const port = input.slice(colon + 1);
    if (!/^\d+$/.test(port)) throw badPort(port);
    return { host: input.slice(0, colon), port: validatePort(Number(port)) };
  }
  if (input !== null && typeof input === 'object') {
    const host = ('host' in input ? input.host : undefined) ?? ('address' in input ? input.address : DEFAULT_HOST);
    if (typeof host !== 'string') throw invalidArgType(`${name}.host`, 'of type string', host);
    return { host, port: validatePort(input.port) };
  }
  throw invalidArgType(name, 'of type string, number or object', input);
}

/** Parses `input` and looks the host up when it is a name. */
export async function resolveAddress(input: AddressInput, name = 'address'): Promise<ResolvedAddress> {
  const { host, port } = parseAddress(input, name);
  const literal = isIP(host.split('%')[0]);
  if (literal === 4 || literal === 6) return { ip: host, family: literal, port };
  const found = await lookup(host);
  return { ip: found.address, family: found.family === 6 ? 6 : 4, port };
}

function validatePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw badPort(port);
  return port;
}

function badPort(port: unknown) {
  return codedError('ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${String(port)}.`, RangeError);
}

/** A socket address from the driver, or the system error its failure means. */
export function addressOf(result: SocketAddress | number, syscall: string): SocketAddress {
  if (typeof result === 'number') throw systemError(result, syscall);
  return result;
}
