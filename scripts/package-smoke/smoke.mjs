// The smoke through `import { … } from 'percore'`: the package's "import"
// condition (dist/src/index.mjs), and the same module instance as `require`.
import { createRequire } from 'node:module';
import { Channel, Runtime, sleep, start, TcpListener, TcpStream } from 'percore';
import smoke from './smoke.js';

const require = createRequire(import.meta.url);
if (require('percore').Runtime !== Runtime) throw new Error('import and require gave two percore modules');
await smoke({ Channel, Runtime, sleep, start, TcpListener, TcpStream });
