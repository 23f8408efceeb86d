// Flags shared by the JavaScript baseline echo servers (node and bun).
// Accepts --host HOST, --port PORT, --buffer-size BYTES (ignored: these
// runtimes size their own buffers); `--name=value` works too.

const USAGE = `usage: <runtime> ${process.argv[1] || 'echo.js'} [--host HOST] [--port PORT]
  --host HOST   address to listen on (default 127.0.0.1)
  --port PORT   port, 0 to pick one (default 50002)
Prints 'listening on HOST:PORT' when ready.`;

function parseEchoArgs(argv) {
  const flags = { host: '127.0.0.1', port: 50002 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = () => (eq >= 0 ? arg.slice(eq + 1) : argv[++i]);
    if (name === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (name === '--host') flags.host = value();
    else if (name === '--port') {
      const v = value();
      if (!/^\d+$/.test(v || '') || Number(v) > 65535) fail(`--port needs a port number, got '${v}'`);
      flags.port = Number(v);
    } else if (name === '--buffer-size') value();
    else fail(`unknown argument '${arg}'`);
  }
  if (!flags.host) fail('--host needs an address');
  return flags;
}

function fail(message) {
  process.stderr.write(`echo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

module.exports = { parseEchoArgs };
