// Where one HTTP/1.1 response from opencode ends, read off the bytes as they pass
// (the fast lane, fastlane.ts, copies them to the client unchanged). A connection
// can carry the next request only once the previous response has ended, so the
// framing is followed exactly (RFC 9112 6.3): interim 1xx heads, no body for HEAD,
// 204 and 304, chunked (sizes, extensions, trailers), Content-Length, or else the
// body runs to the close of the connection.
//
//   head --1xx--> head
//   head --HEAD/204/304, or length 0--> done
//   head --chunked--> size --n>0--> data --n bytes--> crlf --> size
//                      size --0--> trailers --empty line--> done
//   head --length n--> body --n bytes--> done
//   head --neither--> close (done when the connection ends)
type State =
  | { name: 'head'; buf: Buffer }
  | { name: 'size'; line: string }
  | { name: 'data'; left: number }
  | { name: 'crlf'; seen: number }
  | { name: 'trailers'; line: string; empty: boolean }
  | { name: 'body'; left: number }
  | { name: 'close' }
  | { name: 'done' };

const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4096;

/** Internal: never answered to a client (the connection is closed), so not one of errors.ts's codes. */
export class FramingError extends Error {
  override name = 'FramingError';
}

export class ResponseFramer {
  private state: State = { name: 'head', buf: Buffer.alloc(0) };
  /** The response's status (the final one, after any 1xx). */
  status = 0;
  /** Whether the connection must close after this response (Connection: close, HTTP/1.0, or close-delimited). */
  closeAfter = false;

  constructor(private readonly headRequest: boolean) {}

  get done(): boolean { return this.state.name === 'done'; }
  /** Whether any of the response has been seen (a failure after that cannot be retried). */
  started = false;

  private setState(s: State): void { this.state = s; }

  /** How many bytes of chunk belong to this response; the rest (if any) came after its end. */
  feed(chunk: Buffer): number {
    let i = 0;
    if (chunk.length > 0) this.started = true;
    while (i < chunk.length && this.state.name !== 'done') {
      const s = this.state;
      switch (s.name) {
        case 'head': i = this.head(s, chunk, i); break;
        case 'body': {
          const n = Math.min(s.left, chunk.length - i);
          i += n;
          this.setState(s.left - n === 0 ? { name: 'done' } : { name: 'body', left: s.left - n });
          break;
        }
        case 'close': i = chunk.length; break;
        case 'size': {
          // The usual case, read off the bytes: a whole size line of hex digits in this chunk
          // (an event stream is one small chunk per event; strings per line cost more than it).
          if (s.line === '') {
            const fast = sizeAt(chunk, i);
            if (fast !== null) {
              i = fast.next;
              this.setState(fast.size === 0 ? { name: 'trailers', line: '', empty: true } : { name: 'data', left: fast.size });
              break;
            }
          }
          const { line, next, text } = readLine(s.line, chunk, i);
          i = next;
          if (line === null) { this.setState({ name: 'size', line: text }); break; }
          const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
          if (!m) throw new FramingError('bad chunk size');
          const n = parseInt(m[1]!, 16);
          this.setState(n === 0 ? { name: 'trailers', line: '', empty: true } : { name: 'data', left: n });
          break;
        }
        case 'data': {
          const n = Math.min(s.left, chunk.length - i);
          i += n;
          this.setState(s.left - n === 0 ? { name: 'crlf', seen: 0 } : { name: 'data', left: s.left - n });
          break;
        }
        case 'crlf': {
          if (s.seen === 0 && i + 1 < chunk.length && chunk[i] === 13 && chunk[i + 1] === 10) {
            i += 2;
            this.setState({ name: 'size', line: '' });
            break;
          }
          const want = s.seen === 0 ? 13 : 10;
          if (chunk[i] !== want) throw new FramingError('chunk not followed by CRLF');
          i++;
          this.setState(s.seen === 0 ? { name: 'crlf', seen: 1 } : { name: 'size', line: '' });
          break;
        }
        case 'trailers': {
          const { line, next, text } = readLine(s.line, chunk, i);
          i = next;
          if (line === null) { this.setState({ name: 'trailers', line: text, empty: s.empty }); break; }
          this.setState(line === '' ? { name: 'done' } : { name: 'trailers', line: '', empty: false });
          break;
        }
      }
    }
    return i;
  }

  /** The connection ended: fine only for a close-delimited body. */
  ended(): boolean {
    if (this.state.name === 'close') this.setState({ name: 'done' });
    return this.state.name === 'done';
  }

  private head(s: { buf: Buffer }, chunk: Buffer, i: number): number {
    const buf = Buffer.concat([s.buf, chunk.subarray(i)]);
    const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (buf.length > MAX_HEAD) throw new FramingError('response head too large');
      this.setState({ name: 'head', buf });
      return chunk.length;
    }
    const used = end + 4 - s.buf.length;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!m) throw new FramingError('bad status line');
    const status = Number(m[2]);
    if (status >= 100 && status < 200 && status !== 101) {
      this.setState({ name: 'head', buf: Buffer.alloc(0) });
      return i + used;
    }
    this.status = status;
    let length: string | null = null;
    let chunked = false;
    let te = false;
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':');
      if (colon <= 0) throw new FramingError('bad response header');
      const name = l.slice(0, colon).toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== null && length !== value)) throw new FramingError('bad Content-Length');
        length = value;
      } else if (name === 'transfer-encoding') {
        te = true;
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) {
        this.closeAfter = true;
      }
    }
    if (m[1] === '0') this.closeAfter = true;
    if (this.headRequest || status === 204 || status === 304) this.setState({ name: 'done' });
    else if (status === 101) throw new FramingError('an upgrade was not asked for');
    else if (te && chunked) this.setState({ name: 'size', line: '' });
    else if (te) { this.closeAfter = true; this.setState({ name: 'close' }); }
    else if (length !== null) this.setState(length === '0' ? { name: 'done' } : { name: 'body', left: Number(length) });
    else { this.closeAfter = true; this.setState({ name: 'close' }); }
    return i + used;
  }
}

/** A chunk-size line of only hex digits (at most 12) and CRLF, whole at chunk[i]; null for anything else (the slow path decides). */
function sizeAt(chunk: Buffer, i: number): { size: number; next: number } | null {
  let size = 0;
  let j = i;
  for (; j < chunk.length && j - i <= 12; j++) {
    const c = chunk[j]!;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) break;
    size = size * 16 + d;
  }
  if (j === i || j - i > 12 || j + 1 >= chunk.length || chunk[j] !== 13 || chunk[j + 1] !== 10) return null;
  return { size, next: j + 2 };
}

/** A CRLF-ended line continued from `sofar`: the line (null if not ended yet), the index past what was read, the text so far. */
function readLine(sofar: string, chunk: Buffer, i: number): { line: string | null; next: number; text: string } {
  const lf = chunk.indexOf(10, i);
  const text = sofar + chunk.toString('latin1', i, lf < 0 ? chunk.length : lf + 1);
  if (text.length > MAX_LINE) throw new FramingError('line too long');
  if (lf < 0) return { line: null, next: chunk.length, text };
  if (!text.endsWith('\r\n')) throw new FramingError('LF not preceded by CR');
  return { line: text.slice(0, -2), next: lf + 1, text: '' };
}
