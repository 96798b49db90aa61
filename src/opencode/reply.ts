// Reply assembly: opencode's events in, the caller's deltas out. No I/O and no
// clocks, so every order the event stream can take is unit-tested on canned
// sequences (test/reply.test.ts); chat.ts owns the stream, the recovery and the
// watchdogs.
//
// The promise kept here: what the caller has been sent is always a prefix of the
// reply, and by the end exactly the reply, whatever broke in between.
// - Deltas of a message whose message.updated has not arrived yet are held until we
//   know it answers ours (its parentID).
// - After a broken stream, deltas may follow one lost in the drop: from the break
//   until the history has been read again, deltas are dropped, and a part the
//   history showed takes no deltas until its next full text (message.part.updated
//   or the final history read) says what is new.
//
// opencode may stop and ask the person: a permission (a tool the config says to ask
// about) or a question (its question tool). The run then waits for the answer, with
// nothing but heartbeats meanwhile. Requests of our session and of its subagents'
// sessions (the task tool's children) go to the caller once each, and the ones asked
// but not yet answered are tracked (waitingForPerson), so chat.ts can tell a run that
// waits for a person from one that stalled. After a broken stream, resyncAsks takes
// opencode's lists of pending requests for what the stream missed.
import type { Event, Message, Part, PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';

/** One entry of GET /session/:id/message. */
export interface HistoryEntry { info: Message; parts: Part[] }

export interface ToolEvent { name: string; status: string; callID?: string }

export interface ReplySink {
  delta(text: string): void;
  tool(t: ToolEvent): void;
  /** opencode asks the person for a permission (answer: POST /permission/:id/reply). Once per request. */
  permission?(p: PermissionRequest): void;
  /** opencode asks the person a question (answer: POST /question/:id/reply or /reject). Once per request. */
  question?(q: QuestionRequest): void;
}

export type AskKind = 'permission' | 'question';

/** A request asked and not answered yet. */
export interface PendingAsk { id: string; kind: AskKind; sessionID: string }

/** What one event meant for the run: its end, a sign of life, or nothing of ours. */
export type EventMeaning = 'idle' | 'progress' | 'other';

export class ReplyAssembler {
  /** Whether opencode began working on the message (a reply, a busy status, an error). */
  started = false;
  /**
   * Whether opencode has called the model for the reply: its busy once a reply of ours
   * exists (it goes busy as each model attempt starts), or a part of the reply.
   * Before that it may be silent for seconds while still working (chat.ts).
   */
  modelCalled = false;
  /** A retry status's next attempt (epoch ms): no stall before it. */
  retryAt: number | null = null;
  /** The reply's error as opencode reported it, if it failed. */
  error: string | null = null;
  private readonly assistant = new Set<string>();
  private readonly held = new Map<string, Array<{ partID: string; delta: string }>>();
  /** Part types as their message.part.updated said; reasoning streams as field 'text' too. */
  private readonly partType = new Map<string, string>();
  private readonly heldByPart = new Map<string, string[]>();
  /** What the caller has been sent, per text part. */
  private readonly sent = new Map<string, string>();
  private readonly untrusted = new Set<string>();
  private broken = false;
  /** Sessions of subagents working for the run (their parentID is ours). */
  private readonly children = new Set<string>();
  /** Requests asked and not answered yet, by id. */
  private readonly pending = new Map<string, PendingAsk>();
  /** Requests sent to the caller, and requests answered: each goes once, and none comes back. */
  private readonly asked = new Set<string>();
  private readonly answered = new Set<string>();

  constructor(readonly sessionID: string, readonly messageID: string, private readonly sink: ReplySink) {}

  /** Whether opencode waits for a person: a permission or question asked and not answered yet. */
  get waitingForPerson(): boolean {
    return this.pending.size > 0;
  }

  /** The requests asked and not answered yet, oldest first. */
  pendingAsks(): PendingAsk[] {
    return [...this.pending.values()];
  }

  event(ev: Event): EventMeaning {
    const sid = this.sessionID;
    const about = (ev as { properties?: { sessionID?: unknown } }).properties?.sessionID;
    if (typeof about === 'string' && this.children.has(about) && !ASK_EVENTS.has(ev.type)) {
      // A subagent working for the run: a sign of life, never part of the reply.
      return 'progress';
    }
    switch (ev.type) {
      case 'permission.asked':
        if (!this.ours(ev.properties.sessionID)) return 'other';
        this.ask('permission', ev.properties);
        return 'progress';
      case 'question.asked':
        if (!this.ours(ev.properties.sessionID)) return 'other';
        this.ask('question', ev.properties);
        return 'progress';
      case 'permission.replied':
      case 'question.replied':
      case 'question.rejected':
        if (!this.ours(ev.properties.sessionID)) return 'other';
        this.answered.add(ev.properties.requestID);
        this.pending.delete(ev.properties.requestID);
        return 'progress';
      case 'session.created':
      case 'session.updated': {
        const info = ev.properties.info;
        if (info.id !== sid && info.parentID !== undefined && this.ours(info.parentID)) this.children.add(info.id);
        return this.ours(info.id) ? 'progress' : 'other';
      }
      case 'message.updated': {
        const info = ev.properties.info;
        if (info.sessionID !== sid) return 'other';
        if (info.role !== 'assistant' || info.parentID !== this.messageID) return 'progress';
        this.started = true;
        if (!this.assistant.has(info.id)) {
          this.assistant.add(info.id);
          for (const d of this.held.get(info.id) ?? []) this.delta(d.partID, d.delta);
          this.held.delete(info.id);
        }
        if (info.error && !this.error) this.error = describeError(info.error);
        return 'progress';
      }
      case 'message.part.delta': {
        const p = ev.properties;
        if (p.sessionID !== sid) return 'other';
        if (p.field !== 'text') return 'progress';
        if (this.assistant.has(p.messageID)) this.delta(p.partID, p.delta);
        else {
          const list = this.held.get(p.messageID) ?? [];
          list.push({ partID: p.partID, delta: p.delta });
          this.held.set(p.messageID, list);
        }
        return 'progress';
      }
      case 'message.part.updated': {
        const part = ev.properties.part;
        if (part.sessionID !== sid) return 'other';
        if (!this.assistant.has(part.messageID)) return 'progress';
        this.modelCalled = true;
        this.learnType(part.id, part.type);
        if (part.type === 'text') this.whole(part.id, part.text);
        else if (part.type === 'tool') {
          this.learnChild(part);
          this.sink.tool({ name: part.tool, status: part.state.status, callID: part.callID });
        }
        return 'progress';
      }
      case 'session.status': {
        if (ev.properties.sessionID !== sid) return 'other';
        const status = ev.properties.status;
        if (status.type === 'busy' || status.type === 'retry') {
          this.started = true;
          if (this.assistant.size > 0) this.modelCalled = true;
          this.retryAt = status.type === 'retry' ? status.next : null;
        }
        return status.type === 'idle' && this.started ? 'idle' : 'progress';
      }
      case 'session.idle':
        if (ev.properties.sessionID !== sid) return 'other';
        return this.started ? 'idle' : 'progress';
      case 'session.error': {
        if (ev.properties.sessionID !== sid) return 'other';
        this.started = true;
        this.error = describeError(ev.properties.error);
        return 'progress';
      }
      default: {
        // Anything else about our session (a diff, a todo, a permission) is a sign of life.
        const props = (ev as { properties?: { sessionID?: unknown } }).properties;
        return props?.sessionID === sid ? 'progress' : 'other';
      }
    }
  }

  /** The stream broke: deltas from now on may follow one that was lost. */
  streamBroken(): void {
    this.broken = true;
  }

  /**
   * opencode's pending requests (GET /permission and GET /question, the session's
   * directory), read after a new subscription was made and before the history read;
   * call it after resync() got that history. Sends the caller the requests of the run
   * it has not seen and forgets the ones answered meanwhile. A request of our session
   * counts only if it belongs to a reply of ours (the history read after the lists
   * holds every reply a listed request can belong to): opencode keeps listing a
   * request whose run was aborted until somebody answers it.
   */
  resyncAsks(permissions: PermissionRequest[], questions: QuestionRequest[]): void {
    const listed = new Set<string>();
    const mine = (r: PermissionRequest | QuestionRequest) =>
      !this.answered.has(r.id) && (this.children.has(r.sessionID) || (r.sessionID === this.sessionID && (r.tool === undefined || this.assistant.has(r.tool.messageID))));
    for (const p of permissions) if (mine(p)) { listed.add(p.id); this.ask('permission', p); }
    for (const q of questions) if (mine(q)) { listed.add(q.id); this.ask('question', q); }
    for (const id of this.pending.keys()) if (!listed.has(id)) this.pending.delete(id);
  }

  /**
   * The history read after a new subscription was made: sends what the caller
   * missed and trusts deltas again. Returns whether the prompt is in the history.
   */
  resync(entries: HistoryEntry[]): boolean {
    const arrived = entries.some((e) => e.info.id === this.messageID);
    for (const e of this.replies(entries)) {
      this.started = true;
      this.assistant.add(e.info.id);
      if (e.parts.length > 0) this.modelCalled = true;
      for (const part of e.parts) this.learnType(part.id, part.type);
      if (e.info.role === 'assistant' && e.info.error && !this.error) this.error = describeError(e.info.error);
      for (const part of e.parts) {
        // A subagent's session, named by its task tool call, may have been made during the drop.
        if (part.type === 'tool') this.learnChild(part);
        if (part.type !== 'text') continue;
        this.whole(part.id, part.text);
        // Deltas still in flight may repeat what the history just gave.
        this.untrusted.add(part.id);
      }
    }
    this.broken = false;
    return arrived;
  }

  /** Whether the history holds a reply to ours that opencode finished (or failed). */
  finishedIn(entries: HistoryEntry[]): boolean {
    const last = this.replies(entries).at(-1)?.info;
    return last?.role === 'assistant' && (last.time.completed !== undefined || last.error !== undefined);
  }

  /** The complete reply from the history; sends the caller whatever part of it they missed. */
  final(entries: HistoryEntry[]): string {
    const replies = this.replies(entries);
    this.broken = false;
    let text = '';
    for (const e of replies) {
      if (e.info.role === 'assistant' && e.info.error && !this.error) this.error = describeError(e.info.error);
      for (const part of e.parts) {
        if (part.type !== 'text') continue;
        this.whole(part.id, part.text);
        text += part.text;
      }
    }
    return text;
  }

  /** Text the caller was sent, in the order of the parts. */
  sentText(): string {
    return [...this.sent.values()].join('');
  }

  private ours(sessionID: string): boolean {
    return sessionID === this.sessionID || this.children.has(sessionID);
  }

  private ask(kind: AskKind, r: PermissionRequest | QuestionRequest): void {
    if (this.asked.has(r.id) || this.answered.has(r.id)) return;
    this.asked.add(r.id);
    this.pending.set(r.id, { id: r.id, kind, sessionID: r.sessionID });
    if (kind === 'permission') this.sink.permission?.(r as PermissionRequest);
    else this.sink.question?.(r as QuestionRequest);
  }

  private learnChild(part: Extract<Part, { type: 'tool' }>): void {
    const child = (part.state as { metadata?: { sessionId?: unknown } }).metadata?.sessionId;
    if (part.tool === 'task' && typeof child === 'string' && child !== this.sessionID) this.children.add(child);
  }

  private replies(entries: HistoryEntry[]): HistoryEntry[] {
    return entries.filter((e) => e.info.role === 'assistant' && e.info.parentID === this.messageID);
  }

  private delta(partID: string, delta: string): void {
    if (this.broken || this.untrusted.has(partID) || !delta) return;
    const type = this.partType.get(partID);
    if (type === undefined) {
      // Not known yet to be text rather than reasoning: keep it until its part says.
      this.heldByPart.set(partID, [...(this.heldByPart.get(partID) ?? []), delta]);
      return;
    }
    if (type !== 'text') return;
    this.sent.set(partID, (this.sent.get(partID) ?? '') + delta);
    this.sink.delta(delta);
  }

  private learnType(partID: string, type: string): void {
    if (this.partType.has(partID)) return;
    this.partType.set(partID, type);
    const held = this.heldByPart.get(partID);
    this.heldByPart.delete(partID);
    for (const d of held ?? []) this.delta(partID, d);
  }

  /** A part's full text: send only what the caller has not seen. */
  private whole(partID: string, text: string): void {
    const seen = this.sent.get(partID) ?? '';
    if (!text.startsWith(seen)) return;
    const rest = text.slice(seen.length);
    this.sent.set(partID, text);
    this.untrusted.delete(partID);
    if (rest) this.sink.delta(rest);
  }
}

const ASK_EVENTS = new Set(['permission.asked', 'permission.replied', 'question.asked', 'question.replied', 'question.rejected']);

type MessageError = NonNullable<Extract<Message, { role: 'assistant' }>['error']>;

export function describeError(e: MessageError | { name?: string; data?: { message?: unknown } } | undefined): string {
  if (!e) return 'unknown error';
  const message = (e.data as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && message ? message : e.name ?? 'unknown error';
}
