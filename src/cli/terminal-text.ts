/**
 * Text that came from a file (a case name, a set name, an error quoting the file) is printed through
 * {@link escapeControl}, so a vectors file cannot write its own `PASS` lines or summary with a newline
 * or a carriage return, move the cursor or recolour the terminal with escape sequences, or reorder
 * what is shown with Unicode bidirectional controls.
 */

/** C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional controls. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/**
 * `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\x1b`, `\u202e`, ...)
 * and each backslash doubled, so that what is printed is one line, shows every character that was
 * there, and reads back unambiguously.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
