// A raw HTTP/1.1 client over one TCP connection, for tests that must control the
// bytes and the connection (keep-alive, pipelining, malformed heads): requests are
// written as given, responses read one at a time, each within a deadline. Where a
// response ends is read the gateway's own way (response-framer.ts).
import net from 'node:net';
import { ResponseFramer } from '../../src/gateway/response-framer.js';

export interface RawResponse { status: number; headers: Record<string, string>; body: Buffer; head: string }

export class RawConnection {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  ended = false;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake?.(); });
    sock.on('end', () => { this.ended = true; this.wake?.(); });
    sock.on('close', () => { this.ended = true; this.wake?.(); });
    sock.on('error', () => {});
  }

  static open(base: string): Promise<RawConnection> {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  send(text: string | Buffer): void { this.sock.write(text); }

  /** The next response; `head` for the answer to a HEAD. */
  async response(o: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    for (;;) {
      const framer = new ResponseFramer(o.head ?? false);
      const n = this.buf.length ? framer.feed(this.buf) : 0;
      if (framer.done || (this.ended && framer.ended() && n > 0)) {
        const raw = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return parse(raw);
      }
      if (this.ended) throw new Error(`the connection ended before a whole response (${this.buf.length} bytes: ${this.buf.toString('latin1', 0, 200)})`);
      if (Date.now() > deadline) throw new Error('no whole response within the deadline');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
      });
    }
  }

  /** Resolves once the server closed the connection (or rejects past the deadline). */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the connection was not closed within the deadline');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
      });
    }
  }

  close(): void { this.sock.destroy(); }
}

function parse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.toString('latin1', 0, end);
  const [line, ...rest] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of rest) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(line!.split(' ')[1]), headers, body, head };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const lf = b.indexOf('\r\n', i);
    const n = parseInt(b.toString('latin1', i, lf), 16);
    if (!n) return Buffer.concat(out);
    out.push(b.subarray(lf + 2, lf + 2 + n));
    i = lf + 2 + n + 2;
  }
}

/** A request head as text. */
export function get(path: string, headers: Record<string, string>, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
