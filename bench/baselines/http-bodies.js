// The two bodies every HTTP baseline serves: a 13-byte hello world on `/`
// and 16 KiB on `/16k` (examples/http.ts serves the same).
const HELLO = Buffer.from('Hello, World!');
const SIXTEEN_K = Buffer.alloc(16384, 'x');
module.exports = { HELLO, SIXTEEN_K };
