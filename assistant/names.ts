/**
 * Names people give things (devices, rooms) are shown on terminals and pages: they may not carry control
 * characters (NUL, ESC, CR, ...) or the invisible bidirectional controls that make text read differently
 * from what it is. `printable` shows any such character already stored as a visible escape (for the CLI).
 */
// C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const FORBIDDEN_ALL = new RegExp(FORBIDDEN.source, 'gu');

/** null when the name is acceptable, else why not */
export function checkName(value: string, what: string): string | null {
  const m = FORBIDDEN.exec(value);
  if (!m) return null;
  const code = m[0].codePointAt(0)!.toString(16).padStart(4, '0').toUpperCase();
  return `${what} may not contain control characters (found U+${code})`;
}

/** the text with every control character written as a visible \u{...} escape */
export function printable(value: string): string {
  return value.replace(FORBIDDEN_ALL, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
