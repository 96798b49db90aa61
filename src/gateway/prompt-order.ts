// OpenCode's one-shot client (`opencode run --attach`) sends the synchronous prompt
// (POST /session/:id/message) and stops reading its event stream as soon as that
// response arrives. The server publishes the answer's last events a few
// milliseconds after it has sent the response, and through a tunnel the two travel
// on separate channels, so the client often exits having printed nothing: the
// reply is lost between two hops. The pass-through therefore holds the response of
// a synchronous prompt until every event stream it is passing that carries the
// session (subscribed to the prompt's directory, or global) has delivered the
// answer's completion (its `message.updated` with a completed time), for at most
// SETTLE_MS. With no prompt pending, a stream costs one check per chunk.
//
//   Waits per workspace: begin() before the prompt goes upstream, so every event of
//   the answer is seen; settle(messageID) once its response is in; end() always.
import { StringDecoder } from 'node:string_decoder';

/** The longest a response is held for streams that are slow to deliver. */
export const SETTLE_MS = 2000;
/**
 * After the completion is written to every such stream: the client reads the two on
 * separate sockets, through several awaits each, so bytes written first are not
 * handled first unless they have a head start of this much. 50 ms held on a quiet
 * machine; at load 8 on 2 cores, one `run --attach -s` in about ten still printed
 * nothing, since a starved client wakes to find both sockets readable at once. A
 * quarter second is small against any answer's own time.
 */
export const HEAD_START_MS = 250;
/** A longer event line than this is not an answer's completion (those are small); it is skipped. */
const MAX_LINE = 4 * 1024 * 1024;

export interface PromptWait {
  /** Resolves once the streams carrying the session have delivered `messageID`'s completion, or at the deadline. */
  settle(messageID: string, deadlineMs?: number): Promise<void>;
  end(): void;
}

export interface StreamTap {
  feed(chunk: Buffer): void;
  /** Between two upstreams (held-stream.ts): prompts wait for it to subscribe again. */
  holding(on: boolean): void;
  close(): void;
}

/** Which events a stream carries: every directory's (/global/event), or one directory's (null: the server's own). */
export type StreamScope = { global: true } | { global: false; directory: string | null };

interface Wait {
  sessionID: string;
  directory: string | null;
  /** Per stream, the assistant messages of the session it delivered as completed. */
  completed: Map<Tap, Set<string>>;
  check: (() => void) | null;
}

interface Tap { scope: StreamScope; holding: boolean }

export class PromptOrder {
  private readonly waits = new Map<string, Set<Wait>>();
  private readonly taps = new Map<string, Set<Tap>>();
  private readonly resumed = new Map<string, Set<() => void>>();

  /**
   * Resolves once no event stream of the workspace is between upstreams, or at the
   * deadline: a prompt sent meanwhile would publish its events to nobody.
   */
  async streamsReady(workspace: string, deadlineMs: number): Promise<void> {
    const anyHolding = () => [...this.taps.get(workspace) ?? []].some((tap) => tap.holding);
    if (!anyHolding()) return;
    let set = this.resumed.get(workspace);
    if (!set) this.resumed.set(workspace, (set = new Set()));
    const waiters = set;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, deadlineMs);
      function done(): void {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      }
      function check(): void {
        if (!anyHolding()) done();
      }
      waiters.add(check);
    });
    if (waiters.size === 0 && this.resumed.get(workspace) === waiters) this.resumed.delete(workspace);
  }

  private notifyResumed(workspace: string): void {
    for (const check of [...this.resumed.get(workspace) ?? []]) check();
  }

  /** `directory` is the prompt's (its header or query), null for the server's own. */
  begin(workspace: string, sessionID: string, directory: string | null): PromptWait {
    const w: Wait = { sessionID, directory, completed: new Map(), check: null };
    let set = this.waits.get(workspace);
    if (!set) this.waits.set(workspace, (set = new Set()));
    set.add(w);
    const end = () => {
      set!.delete(w);
      if (set!.size === 0 && this.waits.get(workspace) === set) this.waits.delete(workspace);
      w.check?.();
    };
    return {
      end,
      settle: (messageID, deadlineMs = SETTLE_MS) => new Promise<void>((resolve) => {
        const timer = setTimeout(done, deadlineMs);
        function done(): void {
          clearTimeout(timer);
          w.check = null;
          resolve();
        }
        w.check = () => {
          let carried = false;
          for (const tap of this.taps.get(workspace) ?? []) {
            const carries = tap.scope.global || tap.scope.directory === w.directory;
            if (carries && !w.completed.get(tap)?.has(messageID)) return;
            carried ||= carries;
          }
          w.check = null;
          clearTimeout(timer);
          if (carried) setTimeout(done, HEAD_START_MS);
          else done();
        };
        w.check();
      }),
    };
  }

  /** Watches one event stream of the workspace as it passes through. */
  tap(workspace: string, scope: StreamScope): StreamTap {
    const tap: Tap = { scope, holding: false };
    let taps = this.taps.get(workspace);
    if (!taps) this.taps.set(workspace, (taps = new Set()));
    taps.add(tap);
    const decoder = new StringDecoder('utf8');
    let carry = '';
    // Lines are only whole from the first newline seen while a prompt is pending.
    let inLine = false;
    return {
      feed: (chunk) => {
        const waits = this.waits.get(workspace);
        if (!waits) {
          inLine = false;
          carry = '';
          return;
        }
        let text = carry + decoder.write(chunk);
        if (!inLine) {
          const nl = text.indexOf('\n');
          if (nl < 0) return;
          text = text.slice(nl + 1);
          inLine = true;
        }
        const last = text.lastIndexOf('\n');
        carry = text.slice(last + 1);
        if (carry.length > MAX_LINE) {
          carry = '';
          inLine = false;
        }
        if (last < 0) return;
        for (const line of text.slice(0, last).split('\n')) this.line(tap, waits, line);
      },
      holding: (on) => {
        tap.holding = on;
        if (!on) this.notifyResumed(workspace);
      },
      close: () => {
        taps!.delete(tap);
        this.notifyResumed(workspace);
        if (taps!.size === 0 && this.taps.get(workspace) === taps) this.taps.delete(workspace);
        for (const w of this.waits.get(workspace) ?? []) {
          w.completed.delete(tap);
          w.check?.();
        }
      },
    };
  }

  private line(tap: Tap, waits: Set<Wait>, line: string): void {
    if (!line.startsWith('data:')) return;
    if (!line.includes('"message.updated"')) return;
    for (const w of waits) {
      if (!line.includes(w.sessionID)) continue;
      const id = completedMessage(line.slice(5), w.sessionID);
      if (!id) continue;
      let ids = w.completed.get(tap);
      if (!ids) w.completed.set(tap, (ids = new Set()));
      ids.add(id);
      w.check?.();
    }
  }
}

/** The assistant message a `message.updated` event reports completed, in /event's or /global/event's shape. */
function completedMessage(json: string, sessionID: string): string | null {
  let parsed: { type?: string; properties?: unknown; payload?: { type?: string; properties?: unknown } };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch {
    return null;
  }
  const ev = parsed.payload ?? parsed;
  if (ev.type !== 'message.updated') return null;
  const info = (ev.properties as { info?: { id?: string; sessionID?: string; role?: string; time?: { completed?: number } } } | undefined)?.info;
  return info?.sessionID === sessionID && info.role === 'assistant' && info.time?.completed ? info.id ?? null : null;
}
