/**
 * A line protocol server on `framed(stream, lines())`: one command per line
 * (LF or CRLF), one reply line each; replies to a pipelined batch leave in
 * one send (the codec's BufWriter corks them).
 *
 *   PING          -> PONG
 *   ECHO text     -> text
 *   UPPER text    -> TEXT
 *   QUIT          -> BYE, then the server closes the connection
 *   anything else -> ERR unknown command 'X'
 *
 * A line longer than --max-line bytes is answered `ERR line too long` and
 * the connection closed: memory per connection stays bounded.
 *
 *   node dist/examples/lines.js --port 7000 --threads 1 --max-line 1024
 *
 * Same flags and ready line as the echo example.
 */
import { framed, lines, type PercoreError, type TcpStream, type ThreadContext } from '../src/index';
import { parseServerFlags, runServer, type ServerData, serveThread } from './server-flags';

interface LinesData {
  maxLine: number;
}

export async function serveLines(stream: TcpStream, maxLine: number): Promise<void> {
  const chat = framed(stream, lines({ maxLength: maxLine, eol: '\r\n' }));
  try {
    for await (const line of chat) {
      const space = line.indexOf(' ');
      const cmd = (space < 0 ? line : line.slice(0, space)).toUpperCase();
      const arg = space < 0 ? '' : line.slice(space + 1);
      if (cmd === 'PING') await chat.send('PONG');
      else if (cmd === 'ECHO') await chat.send(arg);
      else if (cmd === 'UPPER') await chat.send(arg.toUpperCase());
      else if (cmd === 'QUIT') {
        await chat.send('BYE');
        break;
      } else await chat.send(`ERR unknown command '${cmd.slice(0, 32)}'`);
    }
  } catch (err) {
    const code = (err as PercoreError).code;
    if (code === 'ERR_PERCORE_LINE_TOO_LONG') await chat.send('ERR line too long').catch(() => {});
    else if (code !== 'ECONNRESET' && code !== 'EPIPE' && code !== 'ERR_SOCKET_CLOSED')
      process.stderr.write(`lines: connection: ${(err as Error).message}\n`);
  } finally {
    await chat.close(); // flushes the last replies, gives the buffers back, closes
  }
}

export async function main(ctx: ThreadContext<ServerData<LinesData>>): Promise<void> {
  await serveThread(ctx, (stream) => serveLines(stream, ctx.data.options.maxLine));
}

if (require.main === module) {
  const flags = parseServerFlags('lines', process.argv.slice(2), 7000, [
    {
      name: 'max-line',
      value: true,
      usage: '--max-line BYTES        the longest line a client may send (default 4096)',
    },
  ]);
  const maxLine = Number(flags.extra['max-line'] ?? 4096);
  if (!Number.isInteger(maxLine) || maxLine < 1) {
    process.stderr.write(`lines: --max-line must be a positive whole number\n`);
    process.exit(2);
  }
  runServer<LinesData>('lines', flags, __filename, { maxLine }).catch((err) => {
    process.stderr.write(`lines: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
