// Text from elsewhere (a workspace's reply or error, a request, a file name) made
// safe to show on one line of a terminal or a log: escape sequences could rewrite an
// operator's screen, line breaks could forge a second log line or error line, and
// bidi overrides could disguise what a line says.

// Controls, line and paragraph separators, bidi overrides, invisible characters and
// lone surrogates.
export const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

/** s with every unsafe character written as a \uXXXX escape. Idempotent. */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The first non-blank line of a remote error text, at most `max` characters: the
 * rest of such texts is a stack trace or a log tail, which belongs in a log.
 */
export function firstLine(s: string, max = 300): string {
  const line = s.split(/\r\n|[\r\n\u2028\u2029]/).map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
