// What a link reports about itself, for status, metrics and the benches: traffic,
// channels, connections, the keepalive's round trip, the last error. The link
// records each event here as it happens; snapshot() turns the record and the
// link's state into the LinkSnapshot that `warren status` shows. Figures that only
// mean something while connected (uptime, round trip, cipher) read null otherwise.
import { createRequire } from 'node:module';
import type { WarrenError } from '../errors.js';
import type { ByteCounters } from './channel-socket.js';
import type { LinkState } from './link.js';

export interface LinkSnapshot {
  name: string;
  target: string;
  state: LinkState;
  /** When the current state began (ISO time). */
  since: string;
  /** Milliseconds the current connection has been up, or null. */
  uptimeMs: number | null;
  keepaliveRttMs: number | null;
  openChannels: number;
  /** Channels opened since the link was created (forwards and execs). */
  channelsOpened: number;
  bytesIn: number;
  bytesOut: number;
  /** Successful connections after the first one. */
  reconnects: number;
  /** Connection attempts that failed. */
  failedAttempts: number;
  lastError: { code: string; message: string; at: string } | null;
  /** When the next attempt starts, while down. */
  nextAttemptAt: string | null;
  /** Whether ssh2's native crypto binding loaded (about twice the AES-GCM throughput). */
  nativeCrypto: boolean;
  /** Negotiated client-to-server cipher of the current connection. */
  cipher: string | null;
}

/** What only the link knows: who it is and where its state machine stands. */
export interface LinkFacts {
  name: string;
  target: string;
  state: LinkState;
  sinceMs: number;
  nextAttemptAtMs: number | null;
}

const require = createRequire(import.meta.url);
let nativeCryptoLoaded: boolean | undefined;
/** Whether ssh2 loaded its native crypto binding; asked once per process. */
export function nativeCryptoAvailable(): boolean {
  if (nativeCryptoLoaded === undefined) {
    try {
      nativeCryptoLoaded = Boolean((require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable);
    } catch {
      nativeCryptoLoaded = false;
    }
  }
  return nativeCryptoLoaded;
}

export class LinkStats {
  /** Link-wide byte totals; channel sockets and execs add to these as data passes. */
  readonly bytes: ByteCounters = { bytesIn: 0, bytesOut: 0 };
  /** Client-to-server cipher of the latest key exchange. */
  cipher: string | null = null;
  private openChannels = 0;
  private channelsOpened = 0;
  private connects = 0;
  private failedAttempts = 0;
  private upAtMs = 0;
  private rttMs: number | null = null;
  private last: { error: WarrenError; at: number } | null = null;

  /** Which connection this is (1 for the first, 0 before any). */
  get connection(): number { return this.connects; }
  get lastError(): WarrenError | null { return this.last?.error ?? null; }
  /** Milliseconds since the latest connection came up. */
  upForMs(): number { return Date.now() - this.upAtMs; }

  /** A connection came up: counted, timed from now, with no round trip measured yet. */
  connected(): void {
    this.connects++;
    this.upAtMs = Date.now();
    this.rttMs = null;
  }

  attemptFailed(error: WarrenError): void {
    this.failedAttempts++;
    this.recordError(error);
  }

  recordError(error: WarrenError): void {
    this.last = { error, at: Date.now() };
  }

  keepaliveAnswered(rttMs: number): void {
    this.rttMs = rttMs;
  }

  /** A channel opened (a forward or an exec); call the returned function when it closes. */
  channelOpened(): () => void {
    this.openChannels++;
    this.channelsOpened++;
    return () => { this.openChannels--; };
  }

  snapshot(f: LinkFacts): LinkSnapshot {
    const up = f.state === 'up';
    const le = this.last;
    return {
      name: f.name,
      target: f.target,
      state: f.state,
      since: new Date(f.sinceMs).toISOString(),
      uptimeMs: up ? this.upForMs() : null,
      keepaliveRttMs: this.rttMs === null || !up ? null : Math.round(this.rttMs * 1000) / 1000,
      openChannels: this.openChannels,
      channelsOpened: this.channelsOpened,
      bytesIn: this.bytes.bytesIn,
      bytesOut: this.bytes.bytesOut,
      reconnects: Math.max(0, this.connects - 1),
      failedAttempts: this.failedAttempts,
      lastError: le ? { code: le.error.code, message: le.error.message, at: new Date(le.at).toISOString() } : null,
      nextAttemptAt: f.state === 'down' && f.nextAttemptAtMs !== null ? new Date(f.nextAttemptAtMs).toISOString() : null,
      nativeCrypto: nativeCryptoAvailable(),
      cipher: up ? this.cipher : null,
    };
  }
}
