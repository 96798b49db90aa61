// Reading what the agents cost from a workspace's opencode server: the sessions
// updated since a time (all projects and directories, child sessions included: a
// subagent's tokens are spent too), and a session's assistant messages newest first,
// a page at a time, stopping at the first message already read and finished. What
// OpenCode records per message is taken as it is: tokens by kind, cost, model.
import type { AssistantMessage, GlobalSession, Message } from '@opencode-ai/sdk/v2';
import { callServer } from './api.js';
import type { OpencodeServer } from './server.js';

/** One assistant message's usage: what the ledger keeps of it. */
export interface UsageRecord {
  id: string;
  session: string;
  /** providerID/modelID, as opencode names a model. */
  model: string;
  /** When the message was created (epoch ms). */
  created: number;
  /** Whether opencode finished it (its tokens and cost no longer change). */
  finished: boolean;
  input: number;
  output: number;
  reasoning: number;
  cacheRead: number;
  cacheWrite: number;
  cost: number;
}

/** The figures opencode keeps on the session itself: the sum over its messages. */
export type SessionTotals = Pick<UsageRecord, 'input' | 'output' | 'reasoning' | 'cacheRead' | 'cacheWrite' | 'cost'>;

export interface UsageSession { id: string; directory: string; updated: number; totals: SessionTotals | null }

export interface ReadOptions { quiet: boolean; timeoutMs?: number }

const SESSION_PAGE = 10_000;
const MESSAGE_PAGE = 100;

/**
 * Every session updated at or after `start` (epoch ms), following opencode's cursor.
 * `whole`: every page came back short of the limit. opencode's cursor is an updated
 * time, so past one page, sessions that share the cut's millisecond may be missed.
 */
export async function sessionsSince(server: OpencodeServer, workspace: string, start: number, o: ReadOptions): Promise<{ sessions: UsageSession[]; whole: boolean }> {
  const out: UsageSession[] = [];
  let whole = true;
  let cursor: string | null = null;
  for (;;) {
    const q = new URLSearchParams({ start: String(Math.max(0, Math.floor(start))), limit: String(SESSION_PAGE) });
    if (cursor !== null) q.set('cursor', cursor);
    const r = await callServer<GlobalSession[]>(server, workspace, `/experimental/session?${q}`, { quiet: o.quiet, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
    for (const s of r.body) {
      out.push({
        id: s.id, directory: s.directory, updated: s.time.updated,
        totals: s.tokens ? { input: s.tokens.input, output: s.tokens.output, reasoning: s.tokens.reasoning, cacheRead: s.tokens.cache.read, cacheWrite: s.tokens.cache.write, cost: s.cost ?? 0 } : null,
      });
    }
    if (r.body.length < SESSION_PAGE) return { sessions: out, whole };
    whole = false;
    const next = header(r.headers['x-next-cursor']);
    if (next === null || next === cursor) return { sessions: out, whole };
    cursor = next;
  }
}

/**
 * The session's assistant messages, newest first, until a page holds one that
 * `done` says was read finished (everything older was read then too: opencode only
 * appends; a revert is caught by the ledger's check against the session's totals).
 * `done` null reads them all.
 */
export async function assistantMessages(
  server: OpencodeServer, workspace: string, s: UsageSession, done: ((id: string) => boolean) | null, o: ReadOptions,
): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  let before: string | null = null;
  for (;;) {
    const q = new URLSearchParams({ limit: String(MESSAGE_PAGE) });
    if (before !== null) q.set('before', before);
    const r = await callServer<Array<{ info: Message }>>(server, workspace, `/session/${encodeURIComponent(s.id)}/message?${q}`, {
      directory: s.directory, quiet: o.quiet, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    });
    let reachedKnown = false;
    for (const { info } of r.body) {
      if (done?.(info.id)) reachedKnown = true;
      else if (info.role === 'assistant') out.push(recordOf(info));
    }
    const next = header(r.headers['x-next-cursor']);
    if (reachedKnown || next === null || r.body.length < MESSAGE_PAGE || next === before) return out;
    before = next;
  }
}

export function recordOf(m: AssistantMessage): UsageRecord {
  const t = m.tokens;
  return {
    id: m.id, session: m.sessionID, model: `${m.providerID}/${m.modelID}`, created: m.time.created,
    finished: m.time.completed !== undefined || m.error !== undefined,
    input: t?.input ?? 0, output: t?.output ?? 0, reasoning: t?.reasoning ?? 0, cacheRead: t?.cache?.read ?? 0, cacheWrite: t?.cache?.write ?? 0,
    cost: m.cost ?? 0,
  };
}

function header(v: string | string[] | undefined): string | null {
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.length > 0 ? s : null;
}
