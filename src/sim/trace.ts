// The run's fingerprint: every submission the host takes, every completion it
// writes, every delivery the core makes and every segment the network
// carries is folded into a 64-bit hash (two FNV-1a lanes), so two runs of one
// seed can be compared by one string. With `keep` it also keeps the last
// lines, to show where two runs part.

export class Trace {
  private h1 = 0x811c9dc5;
  private h2 = 0xcbf29ce4;
  /** Records folded in. */
  count = 0;
  private readonly lines: string[] | undefined;

  constructor(private readonly keep = 0) {
    this.lines = keep > 0 ? [] : undefined;
  }

  private word(v: number): void {
    this.h1 = Math.imul(this.h1 ^ (v & 0xffff), 0x01000193);
    this.h1 = Math.imul(this.h1 ^ (v >>> 16), 0x01000193);
    this.h2 = Math.imul(this.h2 ^ (v >>> 16), 0x01000193);
    this.h2 = Math.imul(this.h2 ^ (v & 0xffff), 0x01000193) ^ (this.h2 >>> 15);
  }

  /** One record: a kind, the virtual time and up to a few numbers. */
  record(kind: string, time: number, a = 0, b = 0, c = 0, d = 0): void {
    this.count++;
    this.word(kind.charCodeAt(0) | (kind.charCodeAt(1) << 8));
    this.word(Math.round(time * 1000) >>> 0);
    this.word(a >>> 0);
    this.word(b >>> 0);
    this.word(c >>> 0);
    this.word(d >>> 0);
    if (this.lines !== undefined) {
      this.lines.push(`${time.toFixed(3)} ${kind} ${a} ${b} ${c} ${d}`);
      if (this.lines.length > this.keep) this.lines.shift();
    }
  }

  /** Bytes carried (folded in four at a time). */
  bytes(data: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= data.length; i += 4)
      this.word(data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    for (; i < data.length; i++) this.word(data[i]);
  }

  /** The hash so far, 16 hex digits. */
  hex(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** The last lines kept (empty unless `keep` was given). */
  tail(): readonly string[] {
    return this.lines ?? [];
  }
}
