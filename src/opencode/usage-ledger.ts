// A workspace's usage, kept between reads so that a read costs what changed, not the
// whole history. The cursor is per session: the session as last listed (its
// `time.updated` and the totals opencode keeps on it), the ids of its finished
// assistant messages, and whether it held a reply still being written.
//
//   refresh(since):  list the sessions updated since `since` (one call)
//                    -> each whose updated time or totals moved, or that held an
//                       unfinished reply: read its newest messages, page by page,
//                       back to one already read finished
//                    -> its sum must equal the totals opencode keeps on the session;
//                       if not (a revert took messages away), read it again whole
//
// The updated time alone is not enough: opencode writes a reply's tokens to the
// session's totals, then to the message, then completes it, without moving the
// session's updated time (it moves it afterwards, mostly, not always). The totals
// catch a reply that ends after a read; an unfinished reply catches the few
// milliseconds between the totals and the message. Such a session is read again at
// every refresh until the reply is finished, or an hour old (a reply cut off by a
// killed server stays unfinished).
//
// A session not updated since `since` holds no message of the window (a message
// creates an update of its session), so it is never read for that window; one read
// before and updated within the window but no longer listed was deleted, and leaves
// the ledger. So a read costs one list call plus one or two message pages per session
// that changed; the bound is what the ledger holds: one small record per assistant
// message read (about 200 bytes), kept for the daemon's life, since the counters add
// them all up. Reads run one at a time; callers that come while one runs share the
// next (its window the widest they asked), so a slow read never piles up a queue.
import type { OpencodeServer } from './server.js';
import { assistantMessages, sessionsSince, type SessionTotals, type UsageRecord, type UsageSession } from './usage-read.js';

export type UsageBy = 'workspace' | 'session' | 'model' | 'day';
export const USAGE_BY: readonly UsageBy[] = ['workspace', 'session', 'model', 'day'];

export interface UsageTokens { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number }

/** One row of `warren usage --json` and of the gateway's answer (the spec's shape). */
export interface UsageRow { workspace: string; key: string; messages: number; tokens: UsageTokens; cost: number }

/** What the reads cost so far: for tests, the bench and the daemon's log. */
export interface LedgerStats { refreshes: number; sessionsListed: number; sessionsRead: number; wholeReads: number; messagesRead: number; records: number }

interface Entry {
  updated: number;
  /** The session's totals as listed when it was read (null: this opencode keeps none). */
  totals: SessionTotals | null;
  messages: Map<string, UsageRecord>;
  /** When the newest reply read unfinished was created, or null: read again while young. */
  open: number | null;
}

interface Waiting { since: number; quiet: boolean; promise: Promise<void> }

/** How many sessions are read at once: a few channels, not a thousand. */
const READ_CONCURRENCY = 4;
/** How long a reply read unfinished has its session read again at every refresh. */
const OPEN_REREAD_MS = 3_600_000;

export class UsageLedger {
  private readonly sessions = new Map<string, Entry>();
  private running: Promise<void> | null = null;
  private waiting: Waiting | null = null;
  /** When the last read began (epoch ms), or null before the first. */
  asOf: number | null = null;
  readonly stats: LedgerStats = { refreshes: 0, sessionsListed: 0, sessionsRead: 0, wholeReads: 0, messagesRead: 0, records: 0 };

  constructor(private readonly workspace: string) {}

  /**
   * Brings every session updated since `since` up to date. One read at a time; a call
   * while one runs joins the one read that waits for it (quiet only if every caller is).
   */
  refresh(server: OpencodeServer, since: number, o: { quiet: boolean }): Promise<void> {
    if (this.waiting) {
      this.waiting.since = Math.min(this.waiting.since, since);
      this.waiting.quiet &&= o.quiet;
      return this.waiting.promise;
    }
    if (!this.running) return this.start(server, since, o.quiet);
    const w: Waiting = { since, quiet: o.quiet, promise: Promise.resolve() };
    w.promise = this.running.catch(() => {}).then(() => {
      this.waiting = null;
      return this.start(server, w.since, w.quiet);
    });
    this.waiting = w;
    return w.promise;
  }

  private start(server: OpencodeServer, since: number, quiet: boolean): Promise<void> {
    const p = this.read(server, since, { quiet }).finally(() => {
      if (this.running === p) this.running = null;
    });
    this.running = p;
    return p;
  }

  private async read(server: OpencodeServer, since: number, o: { quiet: boolean }): Promise<void> {
    const began = Date.now();
    const { sessions: listed, whole } = await sessionsSince(server, this.workspace, since, o);
    this.stats.refreshes++;
    this.stats.sessionsListed += listed.length;
    // A session read before, updated within the window, but listed no more: deleted.
    // (Its updated time only grows, so it would be listed if it were still there.)
    // Only from a whole list: one cut into pages may have missed some.
    const ids = new Set(listed.map((s) => s.id));
    for (const [id, e] of this.sessions) {
      if (whole && e.updated >= since && !ids.has(id)) {
        this.stats.records -= e.messages.size;
        this.sessions.delete(id);
      }
    }
    const seen = new Set<string>();
    const changed = listed.filter((s) => !seen.has(s.id) && seen.add(s.id) && moved(this.sessions.get(s.id), s, began));
    let i = 0;
    const worker = async () => {
      while (i < changed.length) await this.readSession(server, changed[i++]!, o);
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, changed.length) }, worker));
    this.asOf = began;
  }

  private async readSession(server: OpencodeServer, s: UsageSession, o: { quiet: boolean }): Promise<void> {
    const had = this.sessions.get(s.id);
    this.stats.sessionsRead++;
    const fresh = await assistantMessages(server, this.workspace, s, had ? (id) => had.messages.get(id)?.finished === true : null, o);
    this.stats.messagesRead += fresh.length;
    const messages = new Map(had?.messages);
    for (const r of fresh) messages.set(r.id, r);
    let entry: Entry = { updated: s.updated, totals: s.totals, messages, open: newestOpen(messages.values()) };
    if (had && s.totals && !sameTotals(sumOf(messages.values()), s.totals)) {
      this.stats.wholeReads++;
      const all = await assistantMessages(server, this.workspace, s, null, o);
      this.stats.messagesRead += all.length;
      const whole = new Map(all.map((r) => [r.id, r]));
      entry = { updated: s.updated, totals: s.totals, messages: whole, open: newestOpen(whole.values()) };
    }
    this.stats.records += entry.messages.size - (had?.messages.size ?? 0);
    this.sessions.set(s.id, entry);
  }

  /** The rows of the window, grouped by `by`; by workspace is always one row, zeros included. */
  rows(since: number, by: UsageBy): UsageRow[] {
    const groups = new Map<string, UsageRow>();
    const row = (key: string) => {
      let r = groups.get(key);
      if (!r) groups.set(key, (r = { workspace: this.workspace, key, messages: 0, tokens: zeroTokens(), cost: 0 }));
      return r;
    };
    if (by === 'workspace') row(this.workspace);
    for (const e of this.sessions.values()) {
      for (const m of e.messages.values()) {
        if (m.created < since) continue;
        add(row(keyOf(m, by, this.workspace)), m);
      }
    }
    const rows = [...groups.values()];
    return by === 'day' ? rows.sort((a, b) => a.key.localeCompare(b.key)) : rows.sort((a, b) => b.cost - a.cost || a.key.localeCompare(b.key));
  }

  /** Totals per model over everything read: what the Prometheus counters show. */
  totalsByModel(): UsageRow[] {
    return this.rows(0, 'model').filter((r) => r.messages > 0);
  }
}

/** Whether a listed session must be read: never read, changed, or holding a young unfinished reply. */
function moved(e: Entry | undefined, s: UsageSession, now: number): boolean {
  if (!e || e.updated !== s.updated) return true;
  if (e.open !== null && now - e.open < OPEN_REREAD_MS) return true;
  if (s.totals === null || e.totals === null) return s.totals !== e.totals;
  return !sameTotals(e.totals, s.totals);
}

function newestOpen(ms: Iterable<UsageRecord>): number | null {
  let newest: number | null = null;
  for (const m of ms) if (!m.finished && (newest === null || m.created > newest)) newest = m.created;
  return newest;
}

function keyOf(m: UsageRecord, by: UsageBy, workspace: string): string {
  switch (by) {
    case 'workspace': return workspace;
    case 'session': return m.session;
    case 'model': return m.model;
    case 'day': return new Date(m.created).toISOString().slice(0, 10);
  }
}

export function zeroTokens(): UsageTokens {
  return { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 };
}

function add(r: UsageRow, m: UsageRecord): void {
  r.messages++;
  r.tokens.input += m.input;
  r.tokens.output += m.output;
  r.tokens.reasoning += m.reasoning;
  r.tokens.cacheRead += m.cacheRead;
  r.tokens.cacheWrite += m.cacheWrite;
  r.cost += m.cost;
}

function sumOf(ms: Iterable<UsageRecord>): SessionTotals {
  const t: SessionTotals = { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };
  for (const m of ms) {
    t.input += m.input; t.output += m.output; t.reasoning += m.reasoning; t.cacheRead += m.cacheRead; t.cacheWrite += m.cacheWrite; t.cost += m.cost;
  }
  return t;
}

function sameTotals(a: SessionTotals, b: SessionTotals): boolean {
  return a.input === b.input && a.output === b.output && a.reasoning === b.reasoning && a.cacheRead === b.cacheRead
    && a.cacheWrite === b.cacheWrite && Math.abs(a.cost - b.cost) <= 1e-9 * Math.max(1, Math.abs(b.cost));
}
