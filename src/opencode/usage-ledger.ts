// A workspace's usage, kept between reads so that a read costs what changed, not the
// whole history. The cursor is per session: the session's `time.updated` as last
// read, and the ids of its finished assistant messages.
//
//   refresh(since):  list the sessions updated since `since` (one call)
//                    -> each whose updated time moved: read its newest messages,
//                       page by page, back to one already read finished
//                    -> its sum must equal the totals opencode keeps on the session;
//                       if not (a revert took messages away), read it again whole
//
// A session not updated since `since` holds no message of the window (a message
// updates its session), so it is never read for that window; one read before and
// updated within the window but no longer listed was deleted, and leaves the ledger. So a read costs one
// list call plus one or two message pages per session that changed; the bound is
// what the ledger holds: one small record per assistant message read (about 200
// bytes), kept for the daemon's life, since the counters add them all up.
import type { OpencodeServer } from './server.js';
import { assistantMessages, sessionsSince, type SessionTotals, type UsageRecord, type UsageSession } from './usage-read.js';

export type UsageBy = 'workspace' | 'session' | 'model' | 'day';
export const USAGE_BY: readonly UsageBy[] = ['workspace', 'session', 'model', 'day'];

export interface UsageTokens { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number }

/** One row of `warren usage --json` and of the gateway's answer (the spec's shape). */
export interface UsageRow { workspace: string; key: string; messages: number; tokens: UsageTokens; cost: number }

/** What the reads cost so far: for tests, the bench and the daemon's log. */
export interface LedgerStats { refreshes: number; sessionsListed: number; sessionsRead: number; wholeReads: number; messagesRead: number; records: number }

interface Entry { updated: number; messages: Map<string, UsageRecord> }

/** How many sessions are read at once: a few channels, not a thousand. */
const READ_CONCURRENCY = 4;

export class UsageLedger {
  private readonly sessions = new Map<string, Entry>();
  private flight: Promise<void> = Promise.resolve();
  /** When the last read began (epoch ms), or null before the first. */
  asOf: number | null = null;
  readonly stats: LedgerStats = { refreshes: 0, sessionsListed: 0, sessionsRead: 0, wholeReads: 0, messagesRead: 0, records: 0 };

  constructor(private readonly workspace: string) {}

  /** Brings every session updated since `since` up to date. One read at a time: a second waits for the first. */
  refresh(server: OpencodeServer, since: number, o: { quiet: boolean }): Promise<void> {
    const next = this.flight.catch(() => {}).then(() => this.read(server, since, o));
    this.flight = next;
    return next;
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
    const changed = listed.filter((s) => !seen.has(s.id) && seen.add(s.id) && this.sessions.get(s.id)?.updated !== s.updated);
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
    let entry: Entry = { updated: s.updated, messages };
    if (had && s.totals && !sameTotals(sumOf(messages.values()), s.totals)) {
      this.stats.wholeReads++;
      const all = await assistantMessages(server, this.workspace, s, null, o);
      this.stats.messagesRead += all.length;
      entry = { updated: s.updated, messages: new Map(all.map((r) => [r.id, r])) };
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
