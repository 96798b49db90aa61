// A socket-shaped Duplex over one ssh2 channel, for undici and for ssh2 itself (a
// jump host's transport). ssh2's Channel is not enough as a socket: its destroy()
// drops the error and never sets `destroyed`, and its 'close' waits for the peer,
// so undici's timeouts would surface as a generic "other side closed" and a frozen
// peer would hang agent.destroy(). Here destroy(err) is real and immediate: the
// error reaches the reader, CHANNEL_CLOSE is sent, and whatever the channel still
// receives is drained and dropped.
import { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';

export interface ByteCounters { bytesIn: number; bytesOut: number }

export interface ChannelSocketOptions {
  remoteAddress: string;
  remotePort: number;
  /** Link-wide totals to add to. */
  counters?: ByteCounters;
  /** Called once when the socket closes, whatever the reason. */
  onClose?: () => void;
}

export class ChannelSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;
  /** ssh2 and undici both look at this: a channel is connected from the start. */
  readonly connecting = false;
  bytesRead = 0;
  bytesWritten = 0;
  timeout = 0;
  private readonly channel: ClientChannel;
  private readonly counters: ByteCounters | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.bytesRead += chunk.length;
    if (this.counters) this.counters.bytesIn += chunk.length;
    if (!this.push(chunk)) this.channel.pause();
  };
  private ended = false;
  private readonly onEnd = () => {
    this.ended = true;
    this.push(null);
  };
  private readonly onChannelClose = () => {
    if (this.destroyed) return;
    // Nothing more will come. Let the reader take what is queued, the end
    // included, before the socket goes: destroying now would turn a clean end
    // into "premature close" for a reader that is one tick behind.
    if (!this.ended) this.onEnd();
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  };
  private readonly onChannelError = (err: Error) => { this.destroy(err); };

  constructor(channel: ClientChannel, o: ChannelSocketOptions) {
    super({ allowHalfOpen: false });
    this.channel = channel;
    this.remoteAddress = o.remoteAddress;
    this.remotePort = o.remotePort;
    this.counters = o.counters;
    channel.on('data', this.onData);
    channel.on('end', this.onEnd);
    channel.on('close', this.onChannelClose);
    channel.on('error', this.onChannelError);
    if (o.onClose) this.once('close', o.onClose);
  }

  override _read(): void {
    this.channel.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    if (this.counters) this.counters.bytesOut += chunk.length;
    let ok: boolean;
    try {
      ok = this.channel.write(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (ok) cb();
    else this.channel.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.channel.end();
    } catch { /* the connection is gone; nothing to flush to */ }
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    const ch = this.channel;
    ch.off('data', this.onData);
    ch.off('end', this.onEnd);
    ch.off('close', this.onChannelClose);
    ch.off('error', this.onChannelError);
    // Keep draining so ssh2 can finish the channel; swallow its late errors.
    ch.on('error', () => {});
    ch.resume();
    try {
      ch.close();
    } catch { /* the connection is gone */ }
    cb(err);
  }

  // net.Socket methods undici and ssh2 call; a channel has nothing to set.
  setKeepAlive(): this { return this; }
  setNoDelay(): this { return this; }
  setTimeout(_ms: number, _cb?: () => void): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
}
