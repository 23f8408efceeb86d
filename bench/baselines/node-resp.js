// node:net RESP server, the baseline the percore RESP example
// (examples/resp.ts) is compared with: the same commands (PING, ECHO, GET,
// SET, DEL, EXISTS, INCR, MGET, CONFIG GET, QUIT) on a Map, written as a
// careful node:net server would be: one parser over the bytes of each 'data'
// event (the unparsed tail kept for the next), the replies of one event
// written with one socket.write. TCP_NODELAY on, like redis-server.
//   node bench/baselines/node-resp.js --port 6381
const net = require('node:net');
const { parseEchoArgs } = require('./args.js');

const { host, port } = parseEchoArgs(process.argv.slice(2));
const store = new Map();
const CR = 13;
const LF = 10;

function int(b, from, to) {
  let n = 0;
  let neg = false;
  let i = from;
  if (b[i] === 0x2d) {
    neg = true;
    i++;
  }
  if (i >= to) return Number.NaN;
  for (; i < to; i++) {
    const c = b[i] - 0x30;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

/** Parses one command at pos into args (Buffers); returns the end, -1 if incomplete, -2 on a protocol error. */
function parse(b, pos, args) {
  args.length = 0;
  if (pos >= b.length) return -1;
  if (b[pos] !== 0x2a) {
    const lf = b.indexOf(LF, pos);
    if (lf < 0) return -1;
    const stop = lf > pos && b[lf - 1] === CR ? lf - 1 : lf;
    for (const w of b.toString('latin1', pos, stop).split(' ')) if (w) args.push(Buffer.from(w, 'latin1'));
    return lf + 1;
  }
  let cr = b.indexOf(CR, pos);
  if (cr < 0 || cr + 1 >= b.length) return -1;
  const argc = int(b, pos + 1, cr);
  if (!(argc >= 0)) return -2;
  let at = cr + 2;
  for (let i = 0; i < argc; i++) {
    if (at >= b.length) return -1;
    if (b[at] !== 0x24) return -2;
    cr = b.indexOf(CR, at);
    if (cr < 0 || cr + 1 >= b.length) return -1;
    const len = int(b, at + 1, cr);
    if (!(len >= 0)) return -2;
    const start = cr + 2;
    if (start + len + 2 > b.length) return -1;
    args.push(b.subarray(start, start + len));
    at = start + len + 2;
  }
  return at;
}

const bulk = (v, out) => {
  out.push(`$${v.length}\r\n`, v, '\r\n');
};

function execute(args, out) {
  const name = args[0].toString('latin1').toUpperCase();
  const key = (i) => args[i].toString('latin1');
  switch (name) {
    case 'GET': {
      if (args.length !== 2) return out.push("-ERR wrong number of arguments for 'get' command\r\n");
      const v = store.get(key(1));
      return v === undefined ? out.push('$-1\r\n') : bulk(v, out);
    }
    case 'SET':
      if (args.length < 3) return out.push("-ERR wrong number of arguments for 'set' command\r\n");
      store.set(key(1), Buffer.from(args[2]));
      return out.push('+OK\r\n');
    case 'PING':
      return args.length === 1 ? out.push('+PONG\r\n') : bulk(args[1], out);
    case 'ECHO':
      return bulk(args[1], out);
    case 'DEL': {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (store.delete(key(i))) n++;
      return out.push(`:${n}\r\n`);
    }
    case 'EXISTS': {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (store.has(key(i))) n++;
      return out.push(`:${n}\r\n`);
    }
    case 'INCR': {
      const v = store.get(key(1));
      const s = v === undefined ? '0' : v.toString('latin1');
      if (!/^-?\d+$/.test(s)) return out.push('-ERR value is not an integer or out of range\r\n');
      const next = Number(s) + 1;
      store.set(key(1), Buffer.from(String(next)));
      return out.push(`:${next}\r\n`);
    }
    case 'MGET': {
      out.push(`*${args.length - 1}\r\n`);
      for (let i = 1; i < args.length; i++) {
        const v = store.get(key(i));
        if (v === undefined) out.push('$-1\r\n');
        else bulk(v, out);
      }
      return;
    }
    case 'CONFIG': {
      if (args.length === 3) {
        const n = key(2);
        const v = n === 'appendonly' ? 'no' : '';
        return out.push(`*2\r\n$${n.length}\r\n${n}\r\n$${v.length}\r\n${v}\r\n`);
      }
      return out.push('*0\r\n');
    }
    case 'COMMAND':
      return out.push('*0\r\n');
    default:
      return out.push(`-ERR unknown command '${name}'\r\n`);
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending = null;
  const args = [];
  socket.on('data', (chunk) => {
    const b = pending === null ? chunk : Buffer.concat([pending, chunk]);
    const out = [];
    let pos = 0;
    let quit = false;
    for (;;) {
      const next = parse(b, pos, args);
      if (next === -1) break;
      if (next === -2) {
        out.push('-ERR Protocol error\r\n');
        quit = true;
        break;
      }
      pos = next;
      if (args.length === 0) continue;
      if (args[0].toString('latin1').toUpperCase() === 'QUIT') {
        out.push('+OK\r\n');
        quit = true;
        break;
      }
      execute(args, out);
    }
    pending = pos < b.length ? b.subarray(pos) : null;
    if (out.length > 0) {
      const reply =
        out.length === 1 && typeof out[0] === 'string'
          ? out[0]
          : Buffer.concat(out.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
      socket.write(reply);
    }
    if (quit) socket.end();
  });
  socket.on('error', () => socket.destroy());
});
server.on('error', (err) => {
  process.stderr.write(`node-resp: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host, port, backlog: 4096 }, () => {
  console.log(`listening on ${host}:${server.address().port} (node:net RESP ${process.version}, pid=${process.pid})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
