// `warren usage` and GET /v1/workspaces/:ws/usage: the query read from a person's or
// a program's words, and one report over several workspaces. A workspace that cannot
// be read (its link down, say) does not hide the others: its error is listed with the
// rows of the rest.
import { InvalidUsageQueryError, isWarrenError } from '../errors.js';
import { parseDuration } from '../config/durations.js';
import { USAGE_BY, type UsageBy, type UsageRow } from '../opencode/usage-ledger.js';

export type { UsageBy, UsageRow, UsageTokens } from '../opencode/usage-ledger.js';

export interface UsageQuery { since: number; by: UsageBy }

/** The spec's object, and the workspaces that could not be read (absent when none). */
export interface UsageReport { since: string; rows: UsageRow[]; errors?: Array<{ workspace: string; code: string; message: string }> }

/** Without `since`: the last 24 hours. */
export const DEFAULT_SINCE = '24h';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * `since`: a duration back from now ("90m", "24h", "7d"; the config's units), or an
 * ISO time ("2026-12-01", UTC midnight, or "2026-12-01T08:00:00Z"). `by`: session,
 * model or day; none (or "workspace") is one row per workspace.
 */
export function parseUsageQuery(since: string | undefined, by: string | undefined, now = Date.now()): UsageQuery {
  const s = since ?? DEFAULT_SINCE;
  let at: number;
  const d = parseDuration(s);
  if (d !== null) at = now - d;
  else if (ISO_TIME.test(s) && Number.isFinite(Date.parse(s))) at = Date.parse(s);
  else throw new InvalidUsageQueryError(`since must be a duration like "24h" or "7d" (units ms, s, m, h, d) or an ISO time like "2026-12-01T08:00:00Z", not ${shown(s)}`);
  if (at > now) throw new InvalidUsageQueryError(`since must not be in the future (${new Date(at).toISOString()})`);
  const b = by ?? 'workspace';
  if (!(USAGE_BY as readonly string[]).includes(b)) throw new InvalidUsageQueryError(`by must be session, model or day (or left out for one row per workspace), not ${shown(b)}`);
  return { since: at, by: b as UsageBy };
}

/** Something that answers usage for one workspace: a runtime, locally or in the daemon. */
export interface UsageSource { name: string; usage(q: UsageQuery): Promise<UsageRow[]> }

/** The report over `sources`, read side by side; rows in the order of the sources. */
export async function usageReport(sources: readonly UsageSource[], q: UsageQuery): Promise<UsageReport> {
  const results = await Promise.allSettled(sources.map((s) => s.usage(q)));
  const report: UsageReport = { since: new Date(q.since).toISOString(), rows: [] };
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') report.rows.push(...r.value);
    else {
      const err = r.reason as Error;
      (report.errors ??= []).push(isWarrenError(err)
        ? { workspace: sources[i]!.name, code: err.code, message: err.message }
        : { workspace: sources[i]!.name, code: 'WARREN_ERR_INTERNAL', message: 'reading its usage failed inside warren; see the log' });
    }
  });
  return report;
}

function shown(v: string): string {
  return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
}
