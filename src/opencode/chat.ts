// Sending one message and streaming the reply: the I/O and the recovery. What the
// caller is sent is decided in reply.ts.
//
// The hang this fixes: opencode's /event stream carries one directory's events, so
// a client that subscribes without the session's own directory never sees its
// session.idle. Here the subscription is for the session's directory and is made
// before the prompt is sent, so nothing between the two is missed.
//
// A reply belongs to the run, not to one connection. When the stream or the link
// breaks, the run waits for the link (across-drops.ts), subscribes again, reads the
// history to send what the caller missed, and goes on; the prompt is sent again
// only when it is certain it never arrived (opencode folds a repeated prompt into
// the first, so twice would be a different question). Only faults that truly end a
// run reach the caller: the model's error or silence, opencode killed mid-run, a
// drop that outlasts the reconnect wait, the deadline.
//
// Run states (setState logs each):
//
//   syncing --subscribed; prompt sent, or found in the history--> streaming
//   streaming --the stream or the link broke--> syncing
//   streaming --the session went idle--> reconciling --history read--> done
//   any --deadline, watchdog, abort, fatal fault--> failed (opencode's run is aborted)
//
// A run may stop and ask a person: a permission or a question (reply.ts hands each
// to onPermission / onQuestion). While one waits for its answer, opencode sends only
// heartbeats; that is no stall: the progress watchdog and the prepare window do not
// fire, and the run's deadline is paused (it counts working time, not the person's).
// The heartbeat watchdog stays (opencode still beats), and the ask deadline
// (askTimeoutMs) bounds each wait: nobody answering in time is ASK_TIMEOUT. The
// progress watchdog counts again from the answer.
import { request } from 'undici';
import { setTimeout as delay } from 'node:timers/promises';
import type { Event, PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';
import type { Logger } from '../log.js';
import {
  AskTimeoutError, ChatAbortedError, ChatFailedError, ChatStalledError, ChatTimeoutError, isWarrenError,
} from '../errors.js';
import { acrossDrops, RECONNECT_WAIT_MS, type DropBudget } from './across-drops.js';
import { brokenCall, callServer, originOf, type CallOrigin } from './api.js';
import { dismissAsks, pendingAsks } from './ask.js';
import { readHistory } from './history.js';
import { newMessageId } from './ids.js';
import { ReplyAssembler, type HistoryEntry } from './reply.js';
import { readSse } from './sse-reader.js';

export type { ToolEvent } from './reply.js';
export type { ChatContext, ChatOptions, ChatResult, StepHook } from './chat-options.js';
import { serverWorking } from './server-working.js';
import { ABORT_MS, ASK_TIMEOUT_MS, MAX_QUIET_BREAKS, PREPARE_MS, SUBSCRIBE_CONFIRM_MS, type ChatContext, type ChatOptions, type ChatResult } from './chat-options.js';
export { ASK_TIMEOUT_MS } from './chat-options.js';


type RunState = 'syncing' | 'streaming' | 'reconciling' | 'done' | 'failed';

/** Whether opencode has the prompt: not sent, sent with no answer heard (a drop), or acknowledged. */
type Prompted = 'no' | 'unsure' | 'yes';

export async function sendMessage(ctx: ChatContext, o: ChatOptions): Promise<ChatResult> {
  return new ChatRun(ctx, o).go();
}

class ChatRun {
  private readonly messageID: string;
  private readonly reply: ReplyAssembler;
  private readonly budget: DropBudget;
  private readonly log: Logger;
  private readonly hb: number;
  private readonly progress: number;
  private readonly askTimeout: number;
  /** Since when the run waits for a person (null: it does not). */
  private waitingSince: number | null = null;
  private lastCheck = Date.now();
  private state: RunState = 'syncing';
  private prompted: Prompted = 'no';
  private lastEvent = Date.now();
  /** A heartbeat-watchdog probe of opencode's CPU is under way (silentTooLong). */
  private probing = false;
  private lastProgress = Date.now();
  private stream: AbortController | undefined;
  private streamGen = 0;
  private streamOrigin: CallOrigin = { connection: 0, instance: 0 };
  private quietBreaks = 0;
  /** Why the run cannot go on; set once. */
  private failure: Error | null = null;
  private idleSeen = false;
  private brokenBy: { err: unknown } | null = null;
  private wake: (() => void) | undefined;
  private readonly failed: Promise<never>;
  private rejectFailed!: (e: Error) => void;

  constructor(private readonly ctx: ChatContext, private readonly o: ChatOptions) {
    this.messageID = o.messageID ?? newMessageId();
    if (o.follow) this.prompted = 'yes';
    this.hb = o.heartbeatTimeoutMs ?? 30_000;
    this.progress = o.progressTimeoutMs ?? 120_000;
    this.askTimeout = o.askTimeoutMs ?? ASK_TIMEOUT_MS;
    this.log = ctx.logger.child({ ws: ctx.workspace, session: o.sessionID, message: this.messageID });
    this.budget = {
      link: ctx.link, server: ctx.server, logger: this.log,
      reconnectWaitMs: o.reconnectWaitMs ?? RECONNECT_WAIT_MS, deadline: Date.now() + (o.deadlineMs ?? 600_000),
      deadlineError: () => new ChatTimeoutError(ctx.workspace, o.sessionID, o.deadlineMs ?? 600_000),
    };
    this.reply = new ReplyAssembler(o.sessionID, this.messageID, {
      delta: (text) => o.onDelta?.(text),
      tool: (t) => o.onTool?.(t),
      permission: (p) => {
        this.log.info({ request: p.id, permission: p.permission, askedBy: p.sessionID }, 'opencode asks for a permission');
        o.onPermission?.(p);
      },
      question: (q) => {
        this.log.info({ request: q.id, askedBy: q.sessionID }, 'opencode asks a question');
        o.onQuestion?.(q);
      },
    });
    this.failed = new Promise<never>((_, reject) => { this.rejectFailed = reject; });
    this.failed.catch(() => {});
  }

  async go(): Promise<ChatResult> {
    const release = this.ctx.server.acquire();
    const watchdog = setInterval(() => this.check(), 250);
    const aborted = () => (isWarrenError(this.o.signal?.reason) ? this.o.signal.reason : new ChatAbortedError(this.ctx.workspace, this.o.sessionID));
    const onAbort = () => this.fail(aborted());
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.o.signal?.aborted) throw aborted();
      await this.sync();
      while (await this.next() === 'broken') await this.recover();
      this.setState('reconciling');
      const entries = await this.guard(this.step('reading the reply', async () => {
        await this.ctx.server.ensureRunning();
        await this.ctx.onStep?.('reply');
        return this.history();
      }, true));
      const text = this.reply.final(entries);
      if (this.reply.error) throw new ChatFailedError(this.ctx.workspace, this.o.sessionID, this.reply.error);
      this.setState('done');
      return { sessionID: this.o.sessionID, messageID: this.messageID, text };
    } catch (err) {
      this.setState('failed');
      if (!this.failure) this.failure = err as Error;
      await this.abortRun();
      throw this.failure;
    } finally {
      clearInterval(watchdog);
      this.o.signal?.removeEventListener('abort', onAbort);
      this.stream?.abort();
      release();
    }
  }

  // ---- the run's course ----

  /**
   * Subscribes (again), then makes sure opencode has the prompt exactly once and
   * sends the caller what a broken stream missed.
   */
  private async sync(): Promise<void> {
    this.setState('syncing');
    await this.guard(this.step(this.prompted === 'no' ? 'sending' : 'resuming', async () => {
      if (this.prompted === 'no') await this.ctx.server.ensureRunning();
      await this.subscribe();
      if (this.prompted === 'no') return this.sendPrompt();
      // What waits for a person, read before the history (reply.ts: resyncAsks).
      const asks = await this.pendingAsks();
      let entries = await this.history();
      let arrived = this.reply.resync(entries);
      if (!arrived && this.prompted === 'unsure') {
        // A prompt cut off by the drop may still be on its way in: look once more.
        await delay(500);
        entries = await this.history();
        arrived = this.reply.resync(entries);
        if (!arrived) return this.sendPrompt();
      }
      this.reply.resyncAsks(asks.permissions, asks.questions);
      // The reply may have finished while nobody listened.
      if (this.reply.finishedIn(entries)) {
        const status = await callServer<Record<string, { type: string }>>(this.ctx.server, this.ctx.workspace, '/session/status', { directory: this.o.directory, timeoutMs: 15_000 });
        const s = status.body[this.o.sessionID];
        if (!s || s.type === 'idle') this.idleSeen = true;
      }
    }, () => this.prompted === 'no'));
    this.lastEvent = Date.now();
    this.lastProgress = Date.now();
    if (this.state === 'syncing') this.setState('streaming');
  }

  /** The stream broke: a dead server ends the run; anything else is waited out. */
  private async recover(): Promise<void> {
    const err = this.brokenBy?.err;
    this.brokenBy = null;
    this.reply.streamBroken();
    this.setState('syncing');
    const why = await brokenCall(this.ctx.server, this.streamOrigin, err, 'the event stream');
    if (why.code === 'WARREN_ERR_SERVER_GONE') throw why;
    const linkDropped = why.code === 'WARREN_ERR_LINK_LOST';
    if (!linkDropped && ++this.quietBreaks > MAX_QUIET_BREAKS) throw why;
    this.log.warn({ err: why.message, linkDropped }, 'event stream lost; subscribing again');
    await this.sync();
  }

  /** Waits for the end of the run or a broken stream, whichever comes first. */
  private async next(): Promise<'idle' | 'broken'> {
    for (;;) {
      if (this.brokenBy) return 'broken';
      if (this.idleSeen) return 'idle';
      await this.guard(new Promise<void>((resolve) => { this.wake = resolve; }));
    }
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  // ---- the event stream ----

  /** Opens /event for the session's directory; resolves once the server confirmed it. */
  private async subscribe(): Promise<void> {
    await this.ctx.onStep?.('subscribe');
    this.stream?.abort();
    const ac = new AbortController();
    this.stream = ac;
    const gen = ++this.streamGen;
    this.brokenBy = null;
    this.streamOrigin = originOf(this.ctx.server);
    const url = new URL('/event', this.ctx.server.baseUrl);
    url.searchParams.set('directory', this.o.directory);
    const res = await request(url, {
      dispatcher: this.ctx.server.dispatcher, signal: ac.signal,
      headers: { authorization: this.ctx.server.authorization(), accept: 'text/event-stream' },
      headersTimeout: SUBSCRIBE_CONFIRM_MS, bodyTimeout: this.hb * 2,
    }).catch(async (err: unknown) => { throw await brokenCall(this.ctx.server, this.streamOrigin, err, 'subscribing to events'); });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => {});
      throw new ChatFailedError(this.ctx.workspace, this.o.sessionID, `the event stream answered ${res.statusCode}`);
    }
    let connected!: () => void;
    const isConnected = new Promise<void>((r) => { connected = r; });
    let ended!: (err: unknown) => void;
    const endedEarly = new Promise<never>((_, reject) => { ended = reject; });
    endedEarly.catch(() => {});
    void this.pump(res.body, gen, ac, connected, ended);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChatStalledError(this.ctx.workspace, `the event stream did not confirm within ${SUBSCRIBE_CONFIRM_MS / 1000} s`)), SUBSCRIBE_CONFIRM_MS);
    });
    try {
      await Promise.race([isConnected, endedEarly, timeout]);
    } catch (err) {
      ac.abort();
      throw isWarrenError(err) && err.code !== 'WARREN_ERR_CHANNEL_FAILED' ? err : await brokenCall(this.ctx.server, this.streamOrigin, err, 'subscribing to events');
    } finally {
      clearTimeout(timer);
    }
  }

  private async pump(body: AsyncIterable<Uint8Array>, gen: number, ac: AbortController, connected: () => void, ended: (err: unknown) => void): Promise<void> {
    let err: unknown = new Error('the event stream ended');
    try {
      for await (const sse of readSse(body)) {
        if (gen !== this.streamGen) return;
        let ev: Event;
        try {
          ev = JSON.parse(sse.data) as Event;
        } catch {
          continue;
        }
        this.lastEvent = Date.now();
        if (ev.type === 'server.connected') connected();
        const meaning = this.reply.event(ev);
        if (meaning === 'other') continue;
        // Waiting to retry the model is no stall: the clock starts at the next attempt.
        this.lastProgress = Math.max(Date.now(), this.reply.retryAt ?? 0);
        if (meaning === 'idle') {
          this.idleSeen = true;
          this.poke();
        }
      }
    } catch (e) {
      err = e;
    }
    if (gen !== this.streamGen || ac.signal.aborted) return;
    ended(err);
    this.brokenBy = { err };
    this.poke();
  }

  // ---- calls ----

  private async sendPrompt(): Promise<void> {
    await this.ctx.onStep?.('prompt');
    this.prompted = 'unsure';
    await callServer(this.ctx.server, this.ctx.workspace, `/session/${this.o.sessionID}/prompt_async`, {
      method: 'POST', directory: this.o.directory, timeoutMs: 30_000,
      body: { messageID: this.messageID, parts: [{ type: 'text', text: this.o.text }] },
    });
    this.prompted = 'yes';
    this.log.info('prompt sent');
  }

  private pendingAsks(): Promise<{ permissions: PermissionRequest[]; questions: QuestionRequest[] }> {
    return pendingAsks(this.ctx.server, this.o.directory);
  }

  private history(): Promise<HistoryEntry[]> {
    return readHistory(this.ctx.server, this.o.sessionID, this.o.directory);
  }

  /**
   * One step across drops. `restartServer`: whether a dead server may be started
   * again for it (nothing of the run was lost with it yet).
   */
  private step<T>(what: string, fn: () => Promise<T>, restartServer: boolean | (() => boolean)): Promise<T> {
    return acrossDrops(this.budget, what, fn, { restartServer, stopped: () => this.failure });
  }

  /** Ends a wait early when the run failed (watchdog, deadline, abort). */
  private guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failed]);
  }

  // ---- failures ----

  private check(): void {
    if (this.failure) return;
    const now = Date.now();
    const sinceLast = now - this.lastCheck;
    this.lastCheck = now;
    if (this.reply.waitingForPerson) {
      // A person's time is not the run's: the deadline waits, and the progress
      // watchdog counts from the answer.
      this.budget.deadline += sinceLast;
      this.lastProgress = now;
      this.waitingSince ??= now;
      if (now - this.waitingSince > this.askTimeout) {
        const what = this.reply.pendingAsks()[0]?.kind ?? 'permission';
        this.fail(new AskTimeoutError(this.ctx.workspace, this.o.sessionID, what, this.askTimeout));
        return;
      }
    } else {
      this.waitingSince = null;
    }
    if (now > this.budget.deadline) {
      this.fail(new ChatTimeoutError(this.ctx.workspace, this.o.sessionID, this.o.deadlineMs ?? 600_000));
      return;
    }
    // While the run resyncs after a drop, its own waits have deadlines; the watchdogs
    // look at a stream that is up.
    if (this.state !== 'streaming' || this.ctx.link.state !== 'up') return;
    const silent = now - this.lastProgress;
    if (now - this.lastEvent > this.hb) {
      this.silentTooLong();
    } else if (this.reply.modelCalled && silent > this.progress) {
      this.fail(new ChatStalledError(this.ctx.workspace, `no progress from the model for ${Math.round(this.progress / 1000)} s`));
    } else if (!this.reply.modelCalled && silent > Math.max(this.progress, PREPARE_MS)) {
      this.fail(new ChatStalledError(this.ctx.workspace, `opencode said nothing about the message for ${Math.round(Math.max(this.progress, PREPARE_MS) / 1000)} s before calling the model`));
    }
  }

  /**
   * Silent past the heartbeat watchdog: the run ends, unless opencode used CPU in the
   * last second (starved or busy, it will beat again). Its silence then counts from
   * now; the progress watchdog and the deadline still bound the run.
   */
  private silentTooLong(): void {
    if (this.probing) return;
    this.probing = true;
    const asked = Date.now();
    void serverWorking(this.ctx.link, this.ctx.server.snapshot().pid, this.log).then((working) => {
      this.probing = false;
      if (this.failure || this.state !== 'streaming' || this.lastEvent > asked) return;
      if (!working) return this.fail(new ChatStalledError(this.ctx.workspace, `no event from opencode for ${Math.round(this.hb / 1000)} s (not even a heartbeat)`));
      this.log.warn({ silentMs: Date.now() - this.lastEvent }, 'no event from opencode past the heartbeat watchdog, but it is using CPU: waiting on');
      this.lastEvent = Date.now();
    });
  }

  private fail(err: Error): void {
    if (this.failure || this.state === 'done') return;
    this.failure = err;
    this.rejectFailed(err);
  }

  private setState(to: RunState): void {
    if (this.state === to || this.state === 'failed' || this.state === 'done') return;
    this.log.debug({ from: this.state, to }, 'run state');
    this.state = to;
  }

  /**
   * Best effort: stop opencode working on a run nobody waits for any more, or it
   * would hold the session busy for the next message. Bounded (ABORT_MS a try, a
   * second try only after a quick failure): an opencode that does not answer must
   * not hold the caller's error back.
   */
  private async abortRun(): Promise<void> {
    if (this.prompted === 'no' || this.ctx.link.state !== 'up' || this.ctx.server.state !== 'running') return;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const started = Date.now();
      try {
        await callServer(this.ctx.server, this.ctx.workspace, `/session/${this.o.sessionID}/abort`, { method: 'POST', directory: this.o.directory, timeoutMs: ABORT_MS });
        await dismissAsks(this.ctx.server, this.reply.pendingAsks(), this.o.directory, ABORT_MS, this.log);
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'aborting the run failed');
        if (this.ctx.link.state !== 'up' || Date.now() - started >= ABORT_MS) return;
      }
    }
  }
}
