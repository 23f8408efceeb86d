// The AssemblyScript side of bench/http/parse-micro.js: the head parser's
// scanning loops (request line, field lines, offsets stored in memory), as an
// in-core parser would run them over a pool buffer. Framing-header semantics
// are left out, so this is a lower bound on what an AssemblyScript parser costs.
const TCHAR: StaticArray<u8> = new StaticArray<u8>(256);
const VALUE: StaticArray<u8> = new StaticArray<u8>(256);
const TARGET: StaticArray<u8> = new StaticArray<u8>(256);

export function init(): void {
  for (let c = 0; c < 256; c++) {
    const visible = c > 0x20 && c != 0x7f;
    let t = visible && c < 0x7f;
    if (c == 0x22 || c == 0x28 || c == 0x29 || c == 0x2c || c == 0x2f || c == 0x3a || c == 0x3b) t = false;
    if (c == 0x3c || c == 0x3d || c == 0x3e || c == 0x3f || c == 0x40 || c == 0x5b || c == 0x5c) t = false;
    if (c == 0x5d || c == 0x7b || c == 0x7d) t = false;
    unchecked((TCHAR[c] = t ? 1 : 0));
    unchecked((VALUE[c] = visible || c == 0x20 || c == 0x09 ? 1 : 0));
    unchecked((TARGET[c] = visible ? 1 : 0));
  }
}

/** Parses b[start, end); offsets go to `out` (i32s). Returns the head end, 0, or -1. */
export function parse(start: u32, end: u32, out: u32): i32 {
  let p = start;
  const ms = p;
  while (p < end && unchecked(TCHAR[load<u8>(p)]) == 1) p++;
  if (p == end) return 0;
  if (p == ms || load<u8>(p) != 0x20) return -1;
  store<i32>(out, ms);
  store<i32>(out, p, 4);
  p++;
  const ts = p;
  while (p < end && unchecked(TARGET[load<u8>(p)]) == 1) p++;
  if (p == end) return 0;
  if (p == ts || load<u8>(p) != 0x20) return -1;
  store<i32>(out, ts, 8);
  store<i32>(out, p, 12);
  p++;
  if (end - p < 10) return 0;
  if (load<u32>(p) != 0x50545448 || load<u8>(p + 4) != 0x2f) return -1;
  if (load<u8>(p + 8) != 13 || load<u8>(p + 9) != 10) return -1;
  p += 10;
  let n: u32 = 0;
  let h = out + 16;
  for (;;) {
    if (p >= end) return 0;
    const c = load<u8>(p);
    if (c == 13) {
      if (p + 1 >= end) return 0;
      if (load<u8>(p + 1) != 10) return -1;
      store<i32>(out, n, 16 + 400 * 16);
      return p + 2;
    }
    if (c == 0x20 || c == 9) return -1;
    const ns = p;
    while (p < end && unchecked(TCHAR[load<u8>(p)]) == 1) p++;
    if (p == end) return 0;
    if (p == ns || load<u8>(p) != 0x3a) return -1;
    const ne = p++;
    while (p < end && (load<u8>(p) == 0x20 || load<u8>(p) == 9)) p++;
    const vs = p;
    while (p < end && unchecked(VALUE[load<u8>(p)]) == 1) p++;
    if (p == end) return 0;
    if (load<u8>(p) != 13) return -1;
    if (p + 1 == end) return 0;
    if (load<u8>(p + 1) != 10) return -1;
    let ve = p;
    while (ve > vs && (load<u8>(ve - 1) == 0x20 || load<u8>(ve - 1) == 9)) ve--;
    if (n == 100) return -1;
    store<i32>(h, ns);
    store<i32>(h, ne, 4);
    store<i32>(h, vs, 8);
    store<i32>(h, ve, 12);
    h += 16;
    n++;
    p += 2;
  }
  return -1;
}
