/**
 * A Redis-protocol (RESP2) server on BufReader and BufWriter: PING, ECHO,
 * GET, SET, DEL, EXISTS, INCR, MGET, CONFIG GET (enough for
 * redis-benchmark), QUIT, in a `Map` per thread (threads share nothing: with
 * `--threads` > 1 each thread has its own keys, so run one thread for a
 * single keyspace). Pipelining: every complete command in the read buffer is
 * answered before the next read, and the replies of one read leave in one
 * send (BufWriter corks them).
 *
 *   node dist/examples/resp.js --port 6380 --threads 1
 *   redis-cli -p 6380 set k v && redis-benchmark -p 6380 -t get,set -P 16 -q
 *
 * Prints `listening on HOST:PORT (driver=…, threads=N, pid=P)` once every
 * thread listens; SIGINT/SIGTERM stop it as they stop the echo example.
 */
import { BufReader, BufWriter, type PercoreError, type TcpStream, type ThreadContext } from '../src/index';
import { parseServerFlags, runServer, type ServerData, serveThread } from './server-flags';

const CR = 13;
const LF = 10;
/** The longest request (a bulk string and its framing) a connection buffers. */
const MAX_REQUEST = 64 << 20;
const MAX_ARGS = 1 << 20;

/** A malformed request: answered with -ERR, then the connection is closed. */
class ProtocolError extends Error {}

/** One connection's parser state: argument positions in the read buffer. */
class Args {
  count = 0;
  starts: number[] = [];
  ends: number[] = [];
}

/** Parses a decimal integer in b[from, to). */
function parseInt10(b: Buffer, from: number, to: number): number {
  let neg = false;
  let i = from;
  if (b[i] === 0x2d) {
    neg = true;
    i++;
  }
  if (i >= to) return Number.NaN;
  let n = 0;
  for (; i < to; i++) {
    const c = b[i] - 0x30;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

/** Parses one command at `pos`; returns the position after it, or -1 if it is not all here. */
function parseCommand(b: Buffer, pos: number, end: number, args: Args): number {
  if (pos >= end) return -1;
  if (b[pos] !== 0x2a) return parseInline(b, pos, end, args);
  let cr = b.indexOf(CR, pos);
  if (cr < 0 || cr + 1 >= end) return -1;
  const argc = parseInt10(b, pos + 1, cr);
  if (!(argc >= 0 && argc <= MAX_ARGS)) throw new ProtocolError('Protocol error: invalid multibulk length');
  let at = cr + 2;
  for (let i = 0; i < argc; i++) {
    if (at >= end) return -1;
    if (b[at] !== 0x24) throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(b[at])}'`);
    cr = b.indexOf(CR, at);
    if (cr < 0 || cr + 1 >= end) return -1;
    const len = parseInt10(b, at + 1, cr);
    if (!(len >= 0 && len <= MAX_REQUEST)) throw new ProtocolError('Protocol error: invalid bulk length');
    const start = cr + 2;
    if (start + len + 2 > end) return -1;
    args.starts[i] = start;
    args.ends[i] = start + len;
    at = start + len + 2;
  }
  args.count = argc;
  return at;
}

/** An inline command (`PING\r\n`, as telnet sends): words split by spaces. */
function parseInline(b: Buffer, pos: number, end: number, args: Args): number {
  const lf = b.indexOf(LF, pos);
  if (lf < 0 || lf >= end) return -1;
  const stop = lf > pos && b[lf - 1] === CR ? lf - 1 : lf;
  let n = 0;
  for (let i = pos; i < stop; ) {
    while (i < stop && b[i] === 0x20) i++;
    if (i >= stop) break;
    const s = i;
    while (i < stop && b[i] !== 0x20) i++;
    args.starts[n] = s;
    args.ends[n] = i;
    n++;
  }
  args.count = n;
  return lf + 1;
}

/** Whether argument 0 is `name` (upper case, ASCII), ignoring case. */
function is(b: Buffer, args: Args, name: string): boolean {
  const s = args.starts[0];
  if (args.ends[0] - s !== name.length) return false;
  for (let i = 0; i < name.length; i++) if ((b[s + i] & 0xdf) !== name.charCodeAt(i)) return false;
  return true;
}

type Store = Map<string, Buffer>;

const OK = '+OK\r\n';
const NIL = '$-1\r\n';
const PONG = '+PONG\r\n';

/** Answers the command in `args`; returns the reply as a string or chunks,
 * or writes it straight into `out` and returns null when it fits. */
function execute(b: Buffer, args: Args, store: Store, out: BufWriter): string | Buffer[] | null {
  const argc = args.count;
  if (argc === 0) return null;
  const key = (i: number) => b.toString('latin1', args.starts[i], args.ends[i]);
  const bytes = (i: number) => b.subarray(args.starts[i], args.ends[i]);
  switch (argc > 0 ? b[args.starts[0]] & 0xdf : 0) {
    case 0x47: // G
      if (is(b, args, 'GET')) {
        if (argc !== 2) return wrongArgs('get');
        const v = store.get(key(1));
        if (v === undefined) return NIL;
        return bulk(v, out);
      }
      break;
    case 0x53: // S
      if (is(b, args, 'SET')) {
        if (argc < 3) return wrongArgs('set');
        // A copy (the read buffer moves on), made with one allocation and no view.
        const value = Buffer.allocUnsafe(args.ends[2] - args.starts[2]);
        b.copy(value, 0, args.starts[2], args.ends[2]);
        store.set(key(1), value);
        return OK;
      }
      break;
    case 0x50: // P
      if (is(b, args, 'PING')) {
        if (argc === 1) return PONG;
        return bulk(bytes(1), out);
      }
      break;
    case 0x44: // D
      if (is(b, args, 'DEL')) {
        if (argc < 2) return wrongArgs('del');
        let n = 0;
        for (let i = 1; i < argc; i++) if (store.delete(key(i))) n++;
        return `:${n}\r\n`;
      }
      break;
    case 0x45: // E
      if (is(b, args, 'ECHO')) {
        if (argc !== 2) return wrongArgs('echo');
        return bulk(bytes(1), out);
      }
      if (is(b, args, 'EXISTS')) {
        if (argc < 2) return wrongArgs('exists');
        let n = 0;
        for (let i = 1; i < argc; i++) if (store.has(key(i))) n++;
        return `:${n}\r\n`;
      }
      break;
    case 0x49: // I
      if (is(b, args, 'INCR')) {
        if (argc !== 2) return wrongArgs('incr');
        const k = key(1);
        const v = store.get(k);
        const n = v === undefined ? 0 : Number(v.toString('latin1'));
        if (v !== undefined && !/^-?\d+$/.test(v.toString('latin1'))) {
          return '-ERR value is not an integer or out of range\r\n';
        }
        const next = n + 1;
        if (!Number.isSafeInteger(next)) return '-ERR increment or decrement would overflow\r\n';
        store.set(k, Buffer.from(String(next)));
        return `:${next}\r\n`;
      }
      break;
    case 0x4d: // M
      if (is(b, args, 'MGET')) {
        if (argc < 2) return wrongArgs('mget');
        const parts: Buffer[] = [Buffer.from(`*${argc - 1}\r\n`)];
        for (let i = 1; i < argc; i++) {
          const v = store.get(key(i));
          if (v === undefined) parts.push(Buffer.from(NIL));
          else parts.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n'));
        }
        return parts;
      }
      break;
    case 0x43: // C
      if (is(b, args, 'CONFIG')) {
        // redis-benchmark asks for `save` and `appendonly`: none, no.
        if (argc === 3 && b.toString('latin1', args.starts[1], args.ends[1]).toUpperCase() === 'GET') {
          const name = key(2);
          const value = name === 'appendonly' ? 'no' : '';
          return `*2\r\n$${name.length}\r\n${name}\r\n$${value.length}\r\n${value}\r\n`;
        }
        return '*0\r\n';
      }
      if (is(b, args, 'COMMAND')) return '*0\r\n';
      break;
  }
  const name = b.toString('latin1', args.starts[0], Math.min(args.ends[0], args.starts[0] + 64));
  return `-ERR unknown command '${name.replace(/[\r\n]/g, ' ')}'\r\n`;
}

/** A bulk reply: straight into `out` when it fits (null), else as chunks. */
function bulk(v: Uint8Array, out: BufWriter): string | Buffer[] | null {
  const head = `$${v.length}\r\n`;
  if (out.capacity - out.buffered >= head.length + v.length + 2) {
    out.tryWrite(head, 'latin1');
    out.tryWrite(v);
    out.tryWrite('\r\n', 'latin1');
    return null;
  }
  return [Buffer.from(head), Buffer.from(v), Buffer.from('\r\n')];
}

function wrongArgs(cmd: string): string {
  return `-ERR wrong number of arguments for '${cmd}' command\r\n`;
}

/** Serves one connection: parse every complete command buffered, answer each,
 * read again; the replies of one read leave in one send. */
export async function serveResp(stream: TcpStream, store: Store): Promise<void> {
  stream.setNoDelay(true);
  const reader = new BufReader(stream, { maxLength: MAX_REQUEST });
  const out = new BufWriter(stream);
  const args = new Args();
  let quit = false;
  try {
    while (!quit) {
      const view = reader.bufferedView();
      const b = Buffer.from(view.buffer, view.byteOffset, view.length);
      let pos = 0;
      for (;;) {
        let next: number;
        try {
          next = parseCommand(b, pos, b.length, args);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          await out.write(Buffer.from(`-ERR ${err.message}\r\n`));
          quit = true;
          break;
        }
        if (next < 0) break;
        if (args.count > 0 && is(b, args, 'QUIT')) {
          await out.write(Buffer.from(OK));
          quit = true;
          pos = next;
          break;
        }
        const reply = execute(b, args, store, out);
        if (typeof reply === 'string') {
          if (!out.tryWrite(reply, 'latin1')) await out.write(Buffer.from(reply, 'latin1'));
        } else if (reply !== null) {
          for (const part of reply) if (!out.tryWrite(part)) await out.write(part);
        }
        pos = next;
      }
      reader.consume(pos);
      if (quit) break;
      // The input ran dry: wait for more. The batch's replies leave at the
      // end of this job as one send (the writer's cork), in flight beside
      // the next read: no wait for the send's completion before reading.
      if ((await reader.fill()) === 0) break;
    }
    await out.flush();
  } catch (err) {
    const code = (err as PercoreError).code;
    if (
      code !== 'ECONNRESET' &&
      code !== 'EPIPE' &&
      code !== 'ERR_SOCKET_CLOSED' &&
      code !== 'ERR_PERCORE_RUNTIME_CLOSED'
    )
      process.stderr.write(`resp: connection: ${(err as Error).message}\n`);
  } finally {
    reader.release();
    out.release();
    await stream.close();
  }
}

/** One thread of the server (run by the launcher on every thread). */
export async function main(ctx: ThreadContext<ServerData<Record<string, never>>>): Promise<void> {
  const store: Store = new Map();
  await serveThread(ctx, (stream) => serveResp(stream, store));
}

if (require.main === module) {
  const flags = parseServerFlags('resp', process.argv.slice(2), 6380);
  runServer('resp', flags, __filename, {}).catch((err) => {
    process.stderr.write(`resp: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
