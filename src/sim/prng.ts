// The simulation's one source of chance. Every choice the simulated world
// makes (a latency, how a send is split, which of two events due at the same
// instant runs first, whether a fault strikes) is drawn here, in the order the
// run asks for it, so a seed names one run exactly.
//
// sfc32 (Chris Doty-Humphrey's small fast counting generator, 128 bits of
// state, public domain), its state filled from the seed by a 32-bit
// splitmix-style mixer: fast in JavaScript (32-bit integer arithmetic only)
// and with no short cycles for any seed.

/** Turns any seed (a number or a string) into 32 bits. */
export function seedBits(seed: number | string): number {
  if (typeof seed === 'number') return (Number.isInteger(seed) ? seed : Math.floor(seed * 0x100000000)) >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Numbers drawn so far (the trace records it: two runs that draw differently differ). */
  draws = 0;

  constructor(seed: number | string) {
    let s = seedBits(seed);
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.next();
    this.draws = 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.draws++;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A uniform number in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** True with probability `p` (no draw when `p` is 0, so a fault that is
   * off does not shift the rest of the run). */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }
}
