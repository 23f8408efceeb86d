// What a typed array's accessors cost on this Node, for views of a Wasm
// memory (pool buffers) and of a plain ArrayBuffer: the reason the read/write
// path finds a pool buffer's place by a tag instead of `buffer`/`byteOffset`
// (docs/PERFORMANCE.md, change 5).
//
//   node bench/micro/typed-array-accessors.js

const wasm = new WebAssembly.Memory({ initial: 100 }).buffer;
const plain = new ArrayBuffer(100 * 65536);
const N = 1e7;

function views(ab) {
  const out = [];
  for (let i = 0; i < 64; i++) out.push(new Uint8Array(ab, i * 1024, 1024));
  return out;
}

// One loop per accessor, built separately so each call site stays monomorphic.
function loop(body) {
  return new Function(
    'bufs',
    'N',
    `let x = 0; for (let i = 0; i < N; i++) { const b = bufs[i & 63]; x += (${body}) ? 1 : 0; } return x;`,
  );
}
const cases = {
  'b !== null (loop cost)': loop('b !== null'),
  length: loop('b.length > 0'),
  byteOffset: loop('b.byteOffset >= 0'),
  byteLength: loop('b.byteLength > 0'),
  buffer: loop('b.buffer !== null'),
  'tag property': loop('b.tag !== undefined'),
};

for (const [memory, ab] of [
  ['wasm memory', wasm],
  ['ArrayBuffer', plain],
]) {
  const bufs = views(ab);
  for (const b of bufs) Object.defineProperty(b, 'tag', { value: 1 });
  for (const [name, fn] of Object.entries(cases)) {
    fn(bufs, N / 10); // warm up and optimize
    const t0 = process.hrtime.bigint();
    fn(bufs, N);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    console.log(`${memory.padEnd(12)} ${name.padEnd(24)} ${ns.toFixed(1)} ns`);
  }
}
