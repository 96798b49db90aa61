// Starting, finding and ending message runs: what the gateway's message routes call.
// A run is started once per message and belongs to warren (runs.ts); a caller that
// comes back, a retried POST with the same Idempotency-Key, or a daemon that has
// restarted since all get that run, or, when warren no longer holds it, what the
// session's history says of the message:
//
//   in the history, answered        -> a finished run: `done` (or `error`) alone
//   in the history, being answered  -> a run that follows the reply without sending
//   not in the history              -> 404, or (a retried POST) the prompt is sent now
import type { ChatOptions, ChatResult } from '../opencode/chat.js';
import { newMessageId } from '../opencode/ids.js';
import type { SessionInfo } from '../opencode/locate.js';
import { AbortedError, MessageNotFoundError, RunFinishedError, SessionBusyError, isWarrenError, type WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { IdempotencyStore } from './idempotency.js';
import { RunRegistry, type Run, type RunBounds, type RunKey } from './runs.js';
import type { WorkspaceRuntime } from './workspace.js';

/** What message-runs needs of the broker. */
export interface RunHost {
  workspace(name: string): WorkspaceRuntime;
  sendMessage(name: string, sessionID: string, o: Omit<ChatOptions, 'sessionID' | 'directory'>, known?: SessionInfo): Promise<ChatResult & { imported: boolean }>;
}

export interface StartOptions { text: string; idempotencyKey?: string }

export class MessageRuns {
  readonly registry: RunRegistry;
  private readonly keys: IdempotencyStore;
  /** Runs being started (the session located first): a racing duplicate waits for the same one. */
  private readonly starting = new Map<string, Promise<Run>>();

  constructor(private readonly host: RunHost, o: { idempotencyFile?: string | null; logger?: Logger; runs?: RunBounds } = {}) {
    this.registry = new RunRegistry(o.runs);
    this.keys = new IdempotencyStore(o.idempotencyFile ?? null, o.logger);
  }

  /**
   * A new message, or with a key seen before, the run that key started. Fails before
   * any run exists for what a caller must fix (unknown session, a busy one).
   */
  async start(workspace: string, sessionID: string, o: StartOptions): Promise<Run> {
    const rt = this.host.workspace(workspace);
    let messageID = newMessageId();
    if (o.idempotencyKey !== undefined) {
      const claim = this.keys.claim(workspace, sessionID, o.idempotencyKey, messageID);
      if (!claim.fresh) return this.existing({ workspace, sessionID, messageID: claim.messageID }, o.text);
      messageID = claim.messageID;
    }
    const key = { workspace, sessionID, messageID };
    const starting = (async () => {
      if (rt.isAnswering(sessionID)) throw new SessionBusyError(workspace, sessionID);
      const located = await rt.locate(sessionID);
      if (rt.isAnswering(sessionID)) throw new SessionBusyError(workspace, sessionID);
      return this.launch(key, located.session, { text: o.text, imported: located.imported });
    })();
    this.starting.set(idOf(key), starting);
    try {
      return await starting;
    } catch (err) {
      if (o.idempotencyKey !== undefined) this.keys.release(workspace, sessionID, o.idempotencyKey);
      throw err;
    } finally {
      this.starting.delete(idOf(key));
    }
  }

  /** The run of a message: held, or rebuilt from the history. MessageNotFoundError if neither. */
  async find(key: RunKey): Promise<Run> {
    return this.existing(key, null);
  }

  /** Ends a running run with WARREN_ERR_ABORTED (opencode's run is aborted too). */
  async abort(key: RunKey): Promise<void> {
    const run = this.registry.get(key) ?? await this.starting.get(idOf(key));
    if (!run) {
      await this.find(key);
      throw new RunFinishedError(key.messageID);
    }
    if (run.state === 'finished') throw new RunFinishedError(key.messageID);
    run.abort.abort(new AbortedError(key.workspace, key.sessionID));
  }

  /** Ends every running run's stream with `err` (a draining daemon); opencode's runs are left to the shutdown. */
  endAll(err: WarrenError): void {
    for (const run of this.registry.running()) run.push('error', { code: err.code, message: err.message });
  }

  private async existing(key: RunKey, text: string | null): Promise<Run> {
    const held = this.registry.get(key);
    if (held) return held;
    const starting = this.starting.get(idOf(key));
    if (starting) return starting;
    const rt = this.host.workspace(key.workspace);
    const { session, outcome } = await rt.messageOutcome(key.sessionID, key.messageID);
    // Looked up meanwhile by another request: one run per message.
    const now = this.registry.get(key);
    if (now) return now;
    if (outcome.state === 'finished') {
      const run = this.registry.start(key);
      run.push('accepted', { sessionID: key.sessionID, messageID: key.messageID });
      if (outcome.error) run.push('error', { code: 'WARREN_ERR_CHAT_FAILED', message: `the reply failed: ${outcome.error}` });
      else run.push('done', { sessionID: key.sessionID, messageID: key.messageID, text: outcome.text });
      return run;
    }
    if (outcome.state === 'running') return this.launch(key, session, { follow: true });
    // Claimed by a daemon that stopped before the prompt reached opencode: send it now.
    if (text !== null) return this.launch(key, session, { text });
    throw new MessageNotFoundError(key.workspace, key.sessionID, key.messageID);
  }

  private launch(key: RunKey, session: SessionInfo, o: { text?: string; follow?: boolean; imported?: boolean }): Run {
    const run = this.registry.start(key);
    run.push('accepted', { sessionID: key.sessionID, messageID: key.messageID });
    this.host.sendMessage(key.workspace, key.sessionID, {
      text: o.text ?? '', messageID: key.messageID, signal: run.abort.signal,
      ...(o.follow ? { follow: true } : {}),
      onDelta: (delta) => run.push('text', { delta }),
      onTool: (t) => run.push('tool', { ...t }),
      // What a UI needs to ask a person; answered through the permissions/questions routes.
      onPermission: (p) => run.push('permission', {
        id: p.id, permission: p.permission, patterns: p.patterns, metadata: p.metadata, always: p.always, ...(p.sessionID !== key.sessionID ? { sessionID: p.sessionID } : {}),
      }),
      onQuestion: (q) => run.push('question', { id: q.id, questions: q.questions, ...(q.sessionID !== key.sessionID ? { sessionID: q.sessionID } : {}) }),
    }, session).then(
      (r) => run.push('done', { sessionID: r.sessionID, messageID: r.messageID, text: r.text, ...(r.imported || o.imported ? { imported: true } : {}) }),
      (err: unknown) => run.push('error', isWarrenError(err)
        ? { code: err.code, message: err.message }
        : { code: 'WARREN_ERR_INTERNAL', message: 'internal error; see the daemon log' }),
    );
    return run;
  }
}

function idOf(k: RunKey): string {
  return `${k.workspace}\0${k.sessionID}\0${k.messageID}`;
}
