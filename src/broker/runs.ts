// Message runs, owned by warren rather than by the HTTP request that started them.
// A run keeps going when its caller leaves; every event it emits gets a sequence
// number (1, 2, 3, ...), so a caller that comes back says where it left off and gets
// exactly the rest. Finished runs stay replayable for a while.
//
// A run's states:
//
//   running --done or error event--> finished --kept KEEP_MS, or evicted oldest first
//                                              past MAX_FINISHED runs or MAX_BYTES--> gone
//
// Memory is bounded by what finished runs hold: each keeps its events (the reply's
// text once in deltas, plus about 60 bytes an event); past MAX_BYTES or MAX_FINISHED,
// the oldest finished runs go first. A run that is gone still answers through the
// session's history (broker.ts): its reply, as `done` alone.

export type RunEventName = 'accepted' | 'text' | 'tool' | 'permission' | 'question' | 'done' | 'error';

export interface RunEvent { id: number; event: RunEventName; data: Record<string, unknown> }

export type RunState = 'running' | 'finished';

/** Finished runs are kept this long for replay. */
export const KEEP_MS = 15 * 60_000;
/** At most this many finished runs are kept ... */
export const MAX_FINISHED = 1000;
/** ... holding at most this many bytes of events in all. */
export const MAX_BYTES = 64 * 1024 * 1024;
/** What an event costs besides its data's JSON (object, array slot, id). */
const EVENT_OVERHEAD = 60;

export interface RunKey { workspace: string; sessionID: string; messageID: string }

export class Run {
  readonly events: RunEvent[] = [];
  readonly abort = new AbortController();
  state: RunState = 'running';
  finishedAt: number | null = null;
  bytes = 0;
  private readonly listeners = new Set<(e: RunEvent) => void>();

  constructor(readonly key: RunKey) {}

  /** Appends an event and hands it to every follower. Nothing after the last (done/error). */
  push(event: RunEventName, data: Record<string, unknown>): void {
    if (this.state === 'finished') return;
    const e: RunEvent = { id: this.events.length + 1, event, data };
    this.events.push(e);
    this.bytes += JSON.stringify(data).length + EVENT_OVERHEAD;
    if (event === 'done' || event === 'error') {
      this.state = 'finished';
      this.finishedAt = Date.now();
    }
    for (const l of [...this.listeners]) l(e);
    if (this.state === 'finished') this.listeners.clear();
  }

  /**
   * The events after `after`, then each new one as it comes, until the last. Returns
   * a function that stops following (the run goes on).
   */
  follow(after: number, onEvent: (e: RunEvent) => void): () => void {
    for (const e of this.events.slice(Math.max(0, after))) onEvent(e);
    if (this.state === 'finished') return () => {};
    this.listeners.add(onEvent);
    return () => { this.listeners.delete(onEvent); };
  }
}

/** How long and how many finished runs are kept (defaults: KEEP_MS, MAX_FINISHED, MAX_BYTES). */
export interface RunBounds { keepMs?: number; maxFinished?: number; maxBytes?: number }

export class RunRegistry {
  private readonly runs = new Map<string, Run>();
  private finishedBytes = 0;
  private finishedCount = 0;

  constructor(private readonly o: RunBounds = {}) {}

  /** A new run; `onFinish` of the registry's bookkeeping is wired to its last event. */
  start(key: RunKey): Run {
    const run = new Run(key);
    this.runs.set(idOf(key), run);
    run.follow(0, (e) => { if (e.event === 'done' || e.event === 'error') this.finished(run); });
    return run;
  }

  get(key: RunKey): Run | undefined {
    this.evict();
    return this.runs.get(idOf(key));
  }

  /** Every run still going (for a draining daemon). */
  running(): Run[] {
    return [...this.runs.values()].filter((r) => r.state === 'running');
  }

  stats(): { running: number; finished: number; finishedBytes: number } {
    this.evict();
    return { running: this.runs.size - this.finishedCount, finished: this.finishedCount, finishedBytes: this.finishedBytes };
  }

  private finished(run: Run): void {
    this.finishedBytes += run.bytes;
    this.finishedCount++;
    this.evict();
  }

  /** Drops finished runs past their time, then the oldest while over a bound. */
  private evict(): void {
    const keepMs = this.o.keepMs ?? KEEP_MS;
    const maxFinished = this.o.maxFinished ?? MAX_FINISHED;
    const maxBytes = this.o.maxBytes ?? MAX_BYTES;
    const now = Date.now();
    // Map order is insertion order; finished runs are dropped in the order they started,
    // which is close enough to the order they finished for a bound on memory.
    for (const [id, run] of this.runs) {
      if (run.state !== 'finished') continue;
      const expired = now - (run.finishedAt ?? now) > keepMs;
      if (!expired && this.finishedCount <= maxFinished && this.finishedBytes <= maxBytes) break;
      this.runs.delete(id);
      this.finishedCount--;
      this.finishedBytes -= run.bytes;
    }
  }
}

function idOf(k: RunKey): string {
  return `${k.workspace}\0${k.sessionID}\0${k.messageID}`;
}
