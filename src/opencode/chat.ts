// Sending one message and streaming the reply.
//
// The hang this fixes: opencode's /event stream carries one directory's events, so
// a client that subscribes without the session's own directory never sees its
// session.idle. Here the subscription is for the session's directory and is made
// before the prompt is sent, so nothing between the two is missed.
//
// What reaches the caller is the text of the assistant's reply to this message
// (matched by parentID), as it streams; the run ends at session.idle. The final
// text always comes from the session's history, so a caller gets the complete
// reply even when the tunnel dropped mid-stream: warren reconnects, subscribes
// again, and sends only what the caller has not seen yet.
import { request } from 'undici';
import type { Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import {
  ChatAbortedError, ChatFailedError, ChatStalledError, ChatTimeoutError, ServerGoneError, WarrenError, isWarrenError,
} from '../errors.js';
import { callServer } from './api.js';
import { newMessageId } from './ids.js';
import type { OpencodeServer } from './server.js';

export interface ChatContext { workspace: string; link: Link; server: OpencodeServer; logger: Logger }

export interface ToolEvent { name: string; status: string; callID?: string }

export interface ChatOptions {
  sessionID: string;
  /** The session's directory (from locateSession): whose event stream to follow. */
  directory: string;
  text: string;
  onDelta?: (text: string) => void;
  onTool?: (t: ToolEvent) => void;
  /** The caller went away: abort the run. */
  signal?: AbortSignal;
  /** No event at all, heartbeats included, for this long: error. Default 30 s (opencode beats every 10 s). */
  heartbeatTimeoutMs?: number;
  /** No progress on this run (deltas, parts, status) for this long: error. Default 120 s. */
  progressTimeoutMs?: number;
  /** The whole run. Default 10 min. */
  deadlineMs?: number;
  /** How long to wait for a dropped link to come back. Default 30 s. */
  reconnectWaitMs?: number;
}

export interface ChatResult { sessionID: string; messageID: string; text: string }

interface OcEvent { type: string; properties: Record<string, unknown> }
interface MessageInfo { id: string; sessionID: string; role: string; parentID?: string; time?: { completed?: number }; error?: { name?: string; data?: { message?: string } } }
interface Part { id: string; sessionID: string; messageID: string; type: string; text?: string; tool?: string; callID?: string; state?: { status?: string } }
interface HistoryEntry { info: MessageInfo; parts: Part[] }

export async function sendMessage(ctx: ChatContext, o: ChatOptions): Promise<ChatResult> {
  const run = new ChatRun(ctx, o);
  return run.go();
}

class ChatRun {
  private readonly messageID = newMessageId();
  private readonly assistant = new Set<string>();
  private readonly pending = new Map<string, Array<{ partID: string; delta: string }>>();
  /** What the caller has been sent, per text part, in order of first appearance. */
  private readonly emitted = new Map<string, string>();
  /** Parts whose deltas cannot be trusted after a resync until a full update arrives. */
  private readonly resynced = new Set<string>();
  /**
   * From a broken stream until the history has been read again: deltas then may
   * follow one lost in the drop, and appending them would leave what the caller saw
   * no longer a prefix of the reply. The history supplies that text instead.
   */
  private resyncing = false;
  private started = false;
  private finished = false;
  private sessionError: string | null = null;
  private lastEvent = Date.now();
  private lastProgress = Date.now();
  private readonly deadline: number;
  private readonly hb: number;
  private readonly progress: number;
  private stream: AbortController | undefined;
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  /** Rejects on the first failure; lets a wait elsewhere (the subscription) end early too. */
  private readonly failed: Promise<never>;
  private rejectFailed!: (e: Error) => void;
  private readonly log: Logger;

  constructor(private readonly ctx: ChatContext, private readonly o: ChatOptions) {
    this.deadline = Date.now() + (o.deadlineMs ?? 600_000);
    this.hb = o.heartbeatTimeoutMs ?? 30_000;
    this.progress = o.progressTimeoutMs ?? 120_000;
    this.log = ctx.logger.child({ ws: ctx.workspace, session: o.sessionID, message: this.messageID });
    this.failed = new Promise<never>((_, reject) => { this.rejectFailed = reject; });
    this.failed.catch(() => {});
  }

  async go(): Promise<ChatResult> {
    const release = this.ctx.server.acquire();
    const done = new Promise<void>((resolve, reject) => { this.settle = { resolve, reject }; });
    done.catch(() => {});
    const watchdog = setInterval(() => this.check(), 250);
    const onAbort = () => this.fail(new ChatAbortedError(this.ctx.workspace, this.o.sessionID));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.o.signal?.aborted) throw new ChatAbortedError(this.ctx.workspace, this.o.sessionID);
      await this.subscribe();
      await this.prompt();
      this.log.info('prompt sent');
      await done;
      const text = await this.reconcile();
      if (this.sessionError) throw new ChatFailedError(this.ctx.workspace, this.o.sessionID, this.sessionError);
      return { sessionID: this.o.sessionID, messageID: this.messageID, text };
    } catch (err) {
      if (!this.finished) await this.abortRun();
      throw err;
    } finally {
      this.finished = true;
      clearInterval(watchdog);
      this.o.signal?.removeEventListener('abort', onAbort);
      this.stream?.abort();
      release();
    }
  }

  // ---- the event stream ----

  /** Opens /event for the session's directory; resolves once the server confirmed it. */
  private async subscribe(): Promise<void> {
    const ac = new AbortController();
    this.stream = ac;
    const url = new URL('/event', this.ctx.server.baseUrl);
    url.searchParams.set('directory', this.o.directory);
    const res = await request(url, {
      dispatcher: this.ctx.server.dispatcher, signal: ac.signal,
      headers: { authorization: this.ctx.server.authorization(), accept: 'text/event-stream' },
      headersTimeout: 15_000, bodyTimeout: this.hb * 2,
    }).catch((err: unknown) => { throw this.mapStreamError(err); });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new ChatFailedError(this.ctx.workspace, this.o.sessionID, `the event stream answered ${res.statusCode}`);
    }
    let connected!: () => void;
    const isConnected = new Promise<void>((r) => { connected = r; });
    void this.pump(res.body, ac, connected);
    const t = setTimeout(() => this.fail(new ChatStalledError(this.ctx.workspace, 'the event stream did not confirm within 15 s')), 15_000);
    try {
      await Promise.race([isConnected, this.failed]);
    } finally {
      clearTimeout(t);
    }
  }

  private async pump(body: AsyncIterable<Buffer>, ac: AbortController, connected: () => void): Promise<void> {
    let buf = '';
    try {
      for await (const chunk of body) {
        buf += chunk.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (!data) continue;
          let ev: OcEvent;
          try {
            ev = JSON.parse(data) as OcEvent;
          } catch {
            continue;
          }
          this.lastEvent = Date.now();
          if (ev.type === 'server.connected') connected();
          this.onEvent(ev);
        }
      }
      if (!ac.signal.aborted && !this.finished) await this.recover(new Error('the event stream ended'));
    } catch (err) {
      if (ac.signal.aborted || this.finished) return;
      await this.recover(err);
    }
  }

  private onEvent(ev: OcEvent): void {
    const p = ev.properties ?? {};
    const sid = this.o.sessionID;
    switch (ev.type) {
      case 'message.updated': {
        const info = p.info as MessageInfo | undefined;
        if (!info || info.sessionID !== sid || info.role !== 'assistant' || info.parentID !== this.messageID) return;
        this.started = true;
        this.lastProgress = Date.now();
        if (!this.assistant.has(info.id)) {
          this.assistant.add(info.id);
          for (const d of this.pending.get(info.id) ?? []) this.delta(d.partID, d.delta);
          this.pending.delete(info.id);
        }
        if (info.error && !this.sessionError) this.sessionError = describeError(info.error);
        return;
      }
      case 'message.part.delta': {
        if (p.sessionID !== sid || p.field !== 'text') return;
        this.lastProgress = Date.now();
        const messageID = String(p.messageID);
        const partID = String(p.partID);
        const delta = String(p.delta ?? '');
        if (this.assistant.has(messageID)) this.delta(partID, delta);
        else {
          // Its message.updated has not arrived yet: keep it until we know whose it is.
          const list = this.pending.get(messageID) ?? [];
          list.push({ partID, delta });
          this.pending.set(messageID, list);
        }
        return;
      }
      case 'message.part.updated': {
        const part = p.part as Part | undefined;
        if (!part || part.sessionID !== sid || !this.assistant.has(part.messageID)) return;
        this.lastProgress = Date.now();
        if (part.type === 'text' && typeof part.text === 'string') this.whole(part.id, part.text);
        else if (part.type === 'tool' && part.tool) this.o.onTool?.({ name: part.tool, status: part.state?.status ?? 'unknown', ...(part.callID ? { callID: part.callID } : {}) });
        return;
      }
      case 'session.status': {
        if (p.sessionID !== sid) return;
        const type = (p.status as { type?: string } | undefined)?.type;
        this.lastProgress = Date.now();
        if (type === 'busy' || type === 'retry') this.started = true;
        else if (type === 'idle' && this.started) this.finish();
        return;
      }
      case 'session.idle':
        if (p.sessionID === sid && this.started) this.finish();
        return;
      case 'session.error': {
        if (p.sessionID !== sid) return;
        this.started = true;
        this.sessionError = describeError(p.error as MessageInfo['error']);
        return;
      }
      default:
    }
  }

  private delta(partID: string, delta: string): void {
    if (this.resyncing || this.resynced.has(partID) || !delta) return;
    this.emitted.set(partID, (this.emitted.get(partID) ?? '') + delta);
    this.o.onDelta?.(delta);
  }

  /** A part's full text: send only what the caller has not seen. */
  private whole(partID: string, text: string): void {
    const seen = this.emitted.get(partID) ?? '';
    if (text.startsWith(seen)) {
      const rest = text.slice(seen.length);
      if (rest) this.o.onDelta?.(rest);
      this.emitted.set(partID, text);
      this.resynced.delete(partID);
    }
  }

  // ---- sending ----

  private async prompt(): Promise<void> {
    await callServer(this.ctx.server, this.ctx.workspace, `/session/${this.o.sessionID}/prompt_async`, {
      method: 'POST', directory: this.o.directory, timeoutMs: 30_000,
      body: { messageID: this.messageID, parts: [{ type: 'text', text: this.o.text }] },
    });
  }

  private async history(): Promise<HistoryEntry[]> {
    const r = await callServer<HistoryEntry[]>(this.ctx.server, this.ctx.workspace, `/session/${this.o.sessionID}/message`, { directory: this.o.directory, timeoutMs: 30_000 });
    return r.body;
  }

  /** The complete reply from history, sending the caller whatever part of it they missed. */
  private async reconcile(): Promise<string> {
    const entries = await this.history();
    const replies = entries.filter((e) => e.info.role === 'assistant' && e.info.parentID === this.messageID);
    for (const e of replies) {
      if (e.info.error && !this.sessionError) this.sessionError = describeError(e.info.error);
      for (const part of e.parts) if (part.type === 'text' && typeof part.text === 'string') this.whole(part.id, part.text);
    }
    return replies.flatMap((e) => e.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '')).join('');
  }

  // ---- failures ----

  /** The stream broke: the tunnel dropped, or the server died. */
  private async recover(err: unknown): Promise<void> {
    if (this.finished) return;
    this.resyncing = true;
    const mapped = this.mapStreamError(err);
    if (mapped.code === 'WARREN_ERR_SERVER_GONE') return this.fail(mapped);
    // With the link still up, the server is the suspect: if subscribing again fails
    // too (it may still be dying, accepting and closing), it is gone.
    const linkDropped = this.ctx.link.state !== 'up' || mapped.code === 'WARREN_ERR_LINK_LOST' && isWarrenError(err);
    this.log.warn({ err: mapped.message, linkDropped }, 'event stream lost; subscribing again');
    try {
      if (this.ctx.link.state !== 'up') await this.ctx.link.waitForUp(Math.min(this.o.reconnectWaitMs ?? 30_000, Math.max(1, this.deadline - Date.now())));
      await this.subscribe();
      const entries = await this.history();
      if (!entries.some((e) => e.info.id === this.messageID)) {
        // prompt_async may not have arrived: same message id, so never twice.
        this.resyncing = false;
        await this.prompt();
        return;
      }
      for (const e of entries) {
        if (e.info.role !== 'assistant' || e.info.parentID !== this.messageID) continue;
        this.started = true;
        this.assistant.add(e.info.id);
        for (const part of e.parts) {
          if (part.type !== 'text' || typeof part.text !== 'string') continue;
          this.whole(part.id, part.text);
          // Deltas already in flight may repeat what history just gave: wait for the full part.
          this.resynced.add(part.id);
        }
      }
      this.resyncing = false;
      const status = await callServer<Record<string, { type: string }>>(this.ctx.server, this.ctx.workspace, '/session/status', { directory: this.o.directory });
      const s = status.body[this.o.sessionID];
      if (this.started && (!s || s.type === 'idle')) this.finish();
    } catch (e) {
      const again = isWarrenError(e) ? e : this.mapStreamError(e);
      if (!linkDropped && this.ctx.link.state === 'up' && !again.code.startsWith('WARREN_ERR_CHAT')) {
        this.ctx.server.markGone(`its event stream broke: ${mapped.message}`);
        return this.fail(new ServerGoneError(this.ctx.workspace));
      }
      this.fail(again);
    }
  }

  private mapStreamError(err: unknown): WarrenError {
    if (isWarrenError(err)) {
      if (err.code === 'WARREN_ERR_CHANNEL_REFUSED' || err.code === 'WARREN_ERR_SERVER_GONE') {
        this.ctx.server.markGone('nothing listens on its port');
        return new ServerGoneError(this.ctx.workspace);
      }
      return err;
    }
    const e = err as Error & { code?: string };
    return new WarrenError('WARREN_ERR_LINK_LOST', `event stream from workspace ${this.ctx.workspace} broke: ${e.message}`);
  }

  private check(): void {
    if (this.finished) return;
    const now = Date.now();
    if (now > this.deadline) this.fail(new ChatTimeoutError(this.ctx.workspace, this.o.sessionID, this.o.deadlineMs ?? 600_000));
    else if (this.ctx.link.state === 'up' && now - this.lastEvent > this.hb) {
      this.fail(new ChatStalledError(this.ctx.workspace, `no event from opencode for ${Math.round(this.hb / 1000)} s (not even a heartbeat)`));
    } else if (now - this.lastProgress > this.progress) {
      this.fail(new ChatStalledError(this.ctx.workspace, `no progress from the model for ${Math.round(this.progress / 1000)} s`));
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.settle.resolve();
  }

  private fail(err: Error): void {
    if (this.finished) return;
    this.rejectFailed(err);
    this.settle.reject(err);
  }

  /** Best effort: stop opencode working on a run nobody waits for any more. */
  private async abortRun(): Promise<void> {
    this.finished = true;
    if (this.ctx.link.state !== 'up' || this.ctx.server.state !== 'running') return;
    // A run left going would hold the session busy for the next message: try twice.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await callServer(this.ctx.server, this.ctx.workspace, `/session/${this.o.sessionID}/abort`, { method: 'POST', directory: this.o.directory, timeoutMs: 15_000 });
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'aborting the run failed');
        if (this.ctx.link.state !== 'up') return;
      }
    }
  }
}

function describeError(e: MessageInfo['error'] | undefined): string {
  if (!e) return 'unknown error';
  return e.data?.message ?? e.name ?? 'unknown error';
}
