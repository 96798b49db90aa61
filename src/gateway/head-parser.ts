// A strict HTTP/1.1 request-head parser for the gateway's fast lane (fastlane.ts).
// The fast lane passes request bytes on to opencode, so any head that two parsers
// could read two ways is a way to smuggle a request past the gateway's checks: this
// parser refuses what RFC 9112 lets a server refuse and Node's own parser may read
// leniently. Refused (as Node answers a parse error: a bare 400 and close; 431 past
// the size limit): both Content-Length and Transfer-Encoding, Content-Length
// repeated or not digits, obs-fold, a CR not before LF, a LF not after CR, NUL or
// other controls, a header name that is not a token or has space before its colon,
// a request line that is not METHOD SP TARGET SP HTTP/1.x, a head past 16 KiB
// (Node's --max-http-header-size). What it takes is not necessarily fast-lane: the
// caller decides that (fastlane-route.ts); a head it takes is one Node takes too.

/** Node's default --max-http-header-size. */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface HeaderLine { name: string; lower: string; value: string }

export interface RequestHead {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  headers: HeaderLine[];
  /** The one Content-Length, if any (digits checked). */
  contentLength: number | null;
  /** Whether a Transfer-Encoding header is there (never with Content-Length). */
  transferEncoding: boolean;
}

export type HeadResult =
  | { kind: 'incomplete' }
  | { kind: 'refused'; status: 400 | 431; why: string }
  | { kind: 'head'; head: RequestHead; bytes: number };

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value: visible ASCII, obs-text, space and tab; no other control. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** An origin-, absolute- or authority-form target, or `*`: visible ASCII only. */
const TARGET = /^[\x21-\x7e]+$/;

const refused = (why: string, status: 400 | 431 = 400): HeadResult => ({ kind: 'refused', status, why });

/** Where the head ends (the index just past CRLFCRLF), or -1 if it has not yet. */
function headEnd(buf: Buffer): number {
  const i = buf.indexOf('\r\n\r\n', 0, 'latin1');
  return i < 0 ? -1 : i + 4;
}

/**
 * Parses the head at the start of buf. Leading empty lines before a request are
 * refused too (RFC 9112 2.2 allows ignoring one; nothing the gateway serves sends one).
 */
export function parseRequestHead(buf: Buffer, max = MAX_HEAD_BYTES): HeadResult {
  const end = headEnd(buf);
  if (end < 0) {
    if (buf.length > max) return refused('head too large', 431);
    // A NUL or a bare LF now is refused now, not after 16 KiB of waiting.
    return early(buf) ?? { kind: 'incomplete' };
  }
  if (end > max) return refused('head too large', 431);
  const text = buf.toString('latin1', 0, end - 4);
  if (text.includes('\0')) return refused('NUL in the head');
  const lines = text.split('\r\n');
  for (const l of lines) {
    if (l.includes('\r')) return refused('CR not followed by LF');
    if (l.includes('\n')) return refused('LF not preceded by CR');
  }
  const line = /^([^ ]+) ([^ ]+) HTTP\/1\.([01])$/.exec(lines[0]!);
  if (!line) return refused('not a request line');
  const [, method, target, minor] = line;
  if (!TCHAR.test(method!)) return refused('method is not a token');
  if (!TARGET.test(target!)) return refused('request target has invalid characters');
  const headers: HeaderLine[] = [];
  let contentLength: number | null = null;
  let transferEncoding = false;
  for (const l of lines.slice(1)) {
    if (l.startsWith(' ') || l.startsWith('\t')) return refused('obs-fold');
    const colon = l.indexOf(':');
    if (colon <= 0) return refused('header line without a name');
    const name = l.slice(0, colon);
    if (!TCHAR.test(name)) return refused('header name is not a token');
    const value = l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return refused('control character in a header value');
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      if (contentLength !== null) return refused('Content-Length repeated');
      if (!/^\d{1,15}$/.test(value)) return refused('Content-Length is not a number');
      contentLength = Number(value);
    } else if (lower === 'transfer-encoding') {
      transferEncoding = true;
    }
    headers.push({ name, lower, value });
  }
  if (transferEncoding && contentLength !== null) return refused('both Content-Length and Transfer-Encoding');
  return { kind: 'head', head: { method: method!, target: target!, version: minor === '1' ? '1.1' : '1.0', headers, contentLength, transferEncoding }, bytes: end };
}

/** A refusal visible before the head is complete. */
function early(buf: Buffer): HeadResult | null {
  if (buf.includes(0)) return refused('NUL in the head');
  for (let i = buf.indexOf(13); i >= 0 && i + 1 < buf.length; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] !== 10) return refused('CR not followed by LF');
  }
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) {
    if (i === 0 || buf[i - 1] !== 13) return refused('LF not preceded by CR');
  }
  return null;
}
