// The gateway's fast lane: plain pass-through GETs and HEADs copied as bytes over one
// SSH channel per client connection, instead of parsed by Node's HTTP server,
// written again by undici, parsed again and written again (a profile put that at
// ~150 us of CPU per request; `ssh -L` spends ~25). The gateway reads each request
// head itself (head-parser.ts, strict), and when fastlane-route.ts says the request
// qualifies, sends opencode a head with only the request line, Host and
// Authorization rewritten and hop-by-hop headers dropped, and copies the response
// back unchanged, following its framing (response-framer.ts) to know where it ends.
// Everything else (and every error answer) is the long way: the connection is handed
// to Node's HTTP server with the bytes read so far put back, and stays there.
//
//   head --not fast lane / upstream failed before any response byte--> handed (to Node)
//   head --malformed--> closed (400 or 431, as Node answers)
//   head --fast lane--> opening --channel--> flight --response ended--> head
//   flight --client left / upstream broke mid-response--> closed
//   flight --no response head within responseHeadersTimeoutMs--> closed (502 SERVER_HTTP, as the long way)
// One request at a time: pipelined requests wait in `pending` until the response
// before them has ended.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Broker } from '../broker/broker.js';
import { ServerHttpError, type WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GuardPolicy } from './browser-guard.js';
import { fastLaneOf, upstreamHead, type FastRequest } from './fastlane-route.js';
import { MAX_HEAD_BYTES, parseRequestHead } from './head-parser.js';
import { ResponseFramer } from './response-framer.js';
import { statusFor } from './respond.js';

export interface FastLaneOptions {
  token: string;
  policy: () => GuardPolicy;
  broker: Broker;
  shutdown: AbortSignal;
  /** Node's HTTP server takes the connection from here (its own 'connection' listener). */
  handOver: (socket: Socket) => void;
  logger: Logger;
  /** As Node's headersTimeout and keepAliveTimeout. */
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** How long opencode may take to send a response's head (the long way's, forward.ts). */
  responseHeadersTimeoutMs: number;
}

type State =
  | { name: 'head' }
  | { name: 'opening'; raw: Buffer }
  | { name: 'flight'; raw: Buffer; f: FastRequest; framer: ResponseFramer; release: () => void }
  | { name: 'handed' }
  | { name: 'closed' };

interface Upstream { sock: Duplex; instance: number }

/** How much of a response may wait for a slow client before the channel is paused. */
const CLIENT_BUFFER_BYTES = 256 * 1024;

const REFUSAL: Record<400 | 408 | 431, Buffer> = {
  400: Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),
  408: Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'),
  431: Buffer.from('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n'),
};

/** The fast lane's open connections, so that a closing gateway can end the idle ones. */
export class FastLane {
  private readonly open = new Set<FastConnection>();
  constructor(private readonly o: FastLaneOptions) {}

  /** Takes a new client connection. */
  accept(socket: Socket): void {
    const c = new FastConnection(socket, this.o, () => this.open.delete(c));
    this.open.add(c);
  }

  /** The gateway closes: idle connections now, busy ones after their response. */
  shutdown(): void {
    for (const c of this.open) c.closeWhenIdle();
  }
}

class FastConnection {
  private state: State = { name: 'head' };
  private pending: Buffer = Buffer.alloc(0);
  private upstream: Upstream | null = null;
  private clientEnded = false;
  private closing = false;
  private draining = false;
  private timer: NodeJS.Timeout | null = null;
  private timerKind: 'head' | 'idle' | 'response' | null = null;

  constructor(private readonly socket: Socket, private readonly o: FastLaneOptions, private readonly gone: () => void) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    this.arm('head');
  }

  private setState(s: State): void { this.state = s; }

  closeWhenIdle(): void {
    this.closing = true;
    if (this.state.name === 'head' && this.pending.length === 0) this.close();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.state.name === 'head') this.nextHead();
    // Pipelined requests wait for the response before them, up to a head's worth.
    else if (this.pending.length > MAX_HEAD_BYTES) this.socket.pause();
  };

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    if (this.state.name === 'head') {
      if (this.pending.length === 0) this.close();
      else this.nextHead();
    }
  };

  private readonly onError = (): void => { this.close(); };
  private readonly onClose = (): void => { this.close(); };

  /**
   * Timers as Node's: a head must come whole within headersTimeout; an idle connection
   * goes after keepAliveTimeout. And as the long way's: opencode's response head must
   * come within responseHeadersTimeoutMs, or the client is told, never left hanging.
   */
  private arm(kind: 'head' | 'idle' | 'response'): void {
    if (this.timerKind === kind) return;
    this.disarm();
    this.timerKind = kind;
    const ms = kind === 'head' ? this.o.headersTimeoutMs : kind === 'idle' ? this.o.keepAliveTimeoutMs : this.o.responseHeadersTimeoutMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerKind = null;
      if (kind === 'head') this.refuse(408);
      else if (kind === 'idle') this.close();
      else this.noResponseHead();
    }, ms);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerKind = null;
  }

  private nextHead(): void {
    if (this.pending.length === 0) return;
    this.arm('head');
    const r = parseRequestHead(this.pending);
    if (r.kind === 'incomplete') {
      if (this.clientEnded) this.close();
      return;
    }
    if (r.kind === 'refused') {
      this.o.logger.debug({ why: r.why, status: r.status }, 'fast lane refused a request head');
      this.refuse(r.status);
      return;
    }
    let f: FastRequest | null = null;
    try {
      f = fastLaneOf(r.head, { token: this.o.token, policy: this.o.policy(), broker: this.o.broker, shuttingDown: this.o.shutdown.aborted || this.closing });
    } catch (err) {
      this.o.logger.debug({ err }, 'fast lane check failed; the long way');
    }
    if (!f) {
      this.handOver();
      return;
    }
    this.disarm();
    const raw = this.pending.subarray(0, r.bytes);
    this.pending = this.pending.subarray(r.bytes);
    void this.send(f, raw);
  }

  private async send(f: FastRequest, raw: Buffer): Promise<void> {
    this.setState({ name: 'opening', raw });
    const cred = f.rt.serverCredentials();
    let up = this.upstream;
    if (!up || up.instance !== cred.instance || up.sock.destroyed) {
      this.dropUpstream();
      try {
        up = { sock: await f.rt.openServerSocket(), instance: cred.instance };
      } catch {
        // The long way opens its own, and says what failed in warren's words.
        if (this.state.name === 'opening') this.handOver(raw);
        return;
      }
      if (this.state.name !== 'opening') {
        up.sock.destroy();
        return;
      }
      this.attach(up);
    }
    const framer = new ResponseFramer(f.method === 'HEAD');
    this.setState({ name: 'flight', raw, f, framer, release: f.rt.hold() });
    this.arm('response');
    up.sock.write(upstreamHead(f, cred));
  }

  private attach(up: Upstream): void {
    this.upstream = up;
    const sock = up.sock;
    sock.on('data', (chunk: Buffer) => this.onUpstreamData(up, chunk));
    sock.on('error', () => this.onUpstreamGone(up));
    sock.on('close', () => this.onUpstreamGone(up));
    sock.on('end', () => this.onUpstreamGone(up));
  }

  private onUpstreamData(up: Upstream, chunk: Buffer): void {
    const s = this.state;
    if (s.name !== 'flight' || this.upstream !== up) {
      // Bytes nobody asked for: this connection to the server is not to be trusted again.
      if (this.upstream === up) this.dropUpstream();
      return;
    }
    let n: number;
    try {
      n = s.framer.feed(chunk);
    } catch (err) {
      this.o.logger.debug({ err }, 'fast lane: opencode\'s response was not framed as HTTP/1.1');
      this.close();
      return;
    }
    // Node's 16 KiB high-water mark would pause the channel after nearly every 32 KiB SSH
    // packet; a deeper buffer (ssh -L's is larger still) keeps bulk flowing.
    const full = !this.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n)) && this.socket.writableLength >= CLIENT_BUFFER_BYTES;
    if (full && !this.draining) {
      // One wait at a time: chunks already read still arrive after pause().
      this.draining = true;
      up.sock.pause();
      this.socket.once('drain', () => {
        this.draining = false;
        up.sock.resume();
      });
    }
    if (this.timerKind === 'response' && s.framer.status !== 0) this.disarm();
    if (n < chunk.length) this.dropUpstream();
    if (s.framer.done) this.finish(s);
  }

  private onUpstreamGone(up: Upstream): void {
    if (this.upstream !== up) return;
    this.upstream = null;
    if (!up.sock.destroyed) up.sock.destroy();
    const s = this.state;
    if (s.name !== 'flight') return;
    if (s.framer.ended()) this.finish(s);
    // Nothing of the answer sent yet: the long way sends the request again (GET and
    // HEAD only) and answers whatever failed as it always has.
    else if (!s.framer.started) {
      s.release();
      this.handOver(s.raw);
    } else this.close();
  }

  private finish(s: Extract<State, { name: 'flight' }>): void {
    s.release();
    if (s.framer.closeAfter || s.f.close || this.clientEnded || this.closing || this.o.shutdown.aborted) {
      this.setState({ name: 'closed' });
      this.dropUpstream();
      this.disarm();
      this.socket.end();
      this.cleanup();
      return;
    }
    this.setState({ name: 'head' });
    this.arm('idle');
    this.socket.resume();
    this.nextHead();
  }

  /** To Node's HTTP server, with what was read and not yet answered put back. */
  private handOver(raw?: Buffer): void {
    if (this.state.name === 'handed' || this.state.name === 'closed') return;
    this.setState({ name: 'handed' });
    this.disarm();
    this.dropUpstream();
    const back = raw ? Buffer.concat([raw, this.pending]) : this.pending;
    this.pending = Buffer.alloc(0);
    this.cleanup();
    if (this.socket.destroyed) return;
    this.socket.pause();
    if (back.length > 0) this.socket.unshift(back);
    this.o.handOver(this.socket);
    this.socket.resume();
  }

  /** opencode sent no response head in time: the long way's 502, and the connection closes. */
  private noResponseHead(): void {
    const s = this.state;
    if (s.name !== 'flight') return;
    const err = new ServerHttpError(s.f.rt.name, `${s.f.method} ${s.f.target}`, 504, `no response headers within ${this.o.responseHeadersTimeoutMs / 1000} s`);
    this.o.logger.debug({ code: err.code, path: s.f.target }, 'fast lane: no response head in time');
    s.release();
    this.setState({ name: 'closed' });
    this.dropUpstream();
    this.cleanup();
    this.socket.end(errorResponse(err), () => this.socket.destroy());
  }

  private refuse(status: 400 | 408 | 431): void {
    if (this.state.name === 'handed' || this.state.name === 'closed') return;
    this.setState({ name: 'closed' });
    this.disarm();
    this.dropUpstream();
    this.cleanup();
    this.socket.pause();
    this.socket.end(REFUSAL[status], () => this.socket.destroy());
  }

  private close(): void {
    const s = this.state;
    if (s.name === 'handed' || s.name === 'closed') return;
    if (s.name === 'flight') s.release();
    this.setState({ name: 'closed' });
    this.disarm();
    this.dropUpstream();
    this.cleanup();
    this.socket.destroy();
  }

  private dropUpstream(): void {
    const up = this.upstream;
    this.upstream = null;
    up?.sock.destroy();
  }

  /** Our listeners off: the socket is Node's now, or gone. */
  private cleanup(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    // An error after we let go (a write to a client that left) must not be unhandled.
    if (this.state.name === 'closed') this.socket.on('error', () => {});
    this.gone();
  }
}

/** A warren error as the long way's sendError writes it (respond.ts), closing the connection. */
function errorResponse(err: WarrenError): Buffer {
  const status = statusFor(err);
  const body = JSON.stringify({ error: { code: err.code, message: err.message } });
  return Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`);
}
