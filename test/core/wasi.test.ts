// The same .wasm the runtime loads, driven as a WASI reactor through node:wasi.
import * as fs from 'node:fs';
import { WASI } from 'node:wasi';
import * as L from '../../src/core/layout';
import { type CoreExports, coreModule, coreWasmPath } from '../../src/core/wasm';
import { FakeHost } from './fake-host';

describe('the core as a WASI reactor', () => {
  test('imports only env.memory and exports memory, _initialize and the contract', () => {
    const module = new WebAssembly.Module(fs.readFileSync(coreWasmPath()));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const exports = WebAssembly.Module.exports(module)
      .map((e) => `${e.name}:${e.kind}`)
      .sort();
    const functions = [
      'init',
      'layoutTableLength',
      'layoutTable',
      'bufAlloc',
      'bufFree',
      'bufOwner',
      'submitNop',
      'submitAccept',
      'submitConnect',
      'submitRecv',
      'submitRecvSelect',
      'submitSend',
      'submitRead',
      'submitWrite',
      'submitSendMsg',
      'submitRecvMsg',
      'submitSplice',
      'submitClose',
      'submitShutdown',
      'submitTimeout',
      'submitOpenat',
      'submitFsync',
      'submitStatx',
      'submitPathOp',
      'submitFallocate',
      'submitCopy',
      'copyInfo',
      'timerStart',
      'cancel',
      'abandon',
      'reap',
      'nextTimeout',
      'counter',
      'opState',
      'checkInvariants',
      '_initialize',
    ];
    expect(exports).toEqual([...functions.map((f) => `${f}:function`), 'memory:memory'].sort());
    expect(exports).not.toContain('_start:function'); // a reactor, not a command
  });

  test('wasi.initialize + a NOP round trip', () => {
    const wasi = new WASI({ version: 'preview1' });
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(coreModule(), {
      env: { memory },
      ...wasi.getImportObject(),
    });
    expect(instance.exports.memory).toBe(memory); // the exported memory is the imported one
    wasi.initialize(instance); // calls _initialize, refuses a module exporting _start
    const x = instance.exports as unknown as CoreExports;
    const header = x.init(4, 1, 64, 4);
    expect(header).toBeGreaterThan(0);
    const host = new FakeHost({ memory, exports: x }, header);
    const id = x.submitNop();
    const [sqe] = host.take();
    expect(sqe.opcode).toBe(L.OP_NOP);
    host.complete(id, 0);
    expect(x.reap(0, 4)).toBe(1);
    expect(host.deliveries()).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_NOP }]);
    expect(x.checkInvariants()).toBe(0);
  });
});
