// Character classes of RFC 9110 §5.6 and RFC 9112, as 256-entry tables: one
// indexed load per byte in the parser's loops.

/** tchar: the characters of a token (method, field name, transfer coding). */
export const TCHAR = new Uint8Array(256);
/** What a field value may hold: VCHAR, obs-text, SP, HTAB (no CTL, no DEL). */
export const FIELD_VALUE = new Uint8Array(256);
/** What a request-target may hold: visible ASCII and obs-text (no CTL, SP or DEL). */
export const TARGET = new Uint8Array(256);
/** Hex digit values plus one (0 = not a hex digit). */
export const HEX = new Uint8Array(256);

for (let c = 0; c < 256; c++) {
  const visible = c > 0x20 && c !== 0x7f;
  TCHAR[c] = visible && c < 0x7f && !'"(),/:;<=>?@[\\]{}'.includes(String.fromCharCode(c)) ? 1 : 0;
  FIELD_VALUE[c] = visible || c === 0x20 || c === 0x09 ? 1 : 0;
  TARGET[c] = visible ? 1 : 0;
}
for (let d = 0; d < 16; d++) {
  HEX['0123456789abcdef'.charCodeAt(d)] = d + 1;
  HEX['0123456789ABCDEF'.charCodeAt(d)] = d + 1;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

/** Whether b[from, to) equals `lower` (lower-case ASCII bytes), ignoring ASCII case. */
export function equalsLower(b: Uint8Array, from: number, to: number, lower: Uint8Array): boolean {
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = b[from + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower[i]) return false;
  }
  return true;
}

/** The bytes of an ASCII string. */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

/** What the head parser and the chunked decoder share: how they refuse input. */
export class Refusing {
  /** After an error (a -1 result): the status to answer and why. */
  status = 0;
  reason = '';

  /** Records the refusal; returns -1, the scanners' error result. */
  protected fail(status: number, reason: string): number {
    this.status = status;
    this.reason = reason;
    return -1;
  }
}
