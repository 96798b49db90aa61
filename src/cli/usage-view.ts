// `warren usage` as a table that fits 80 columns with a session id (30 characters) as
// its key: counts shortened to five characters (123k, 1.23M), the cost to seven
// ($0.0123, $123.45, $12.3k), right-aligned, one space apart. One section per
// workspace when the rows are not per workspace; a TOTAL line under a section of
// more than one row. JSON (--json) has the exact figures.
import type { UsageBy, UsageReport, UsageRow } from '../broker/usage.js';
import { sanitize } from './text-width.js';

const KEY_HEADER: Record<UsageBy, string> = { workspace: 'WORKSPACE', session: 'SESSION', model: 'MODEL', day: 'DAY (UTC)' };
const NUMBER_HEADERS = ['MSGS', 'INPUT', 'OUTPUT', 'REASON', 'CREAD', 'CWRITE', 'COST'];

export function formatUsage(report: UsageReport, by: UsageBy): string {
  const out = [`since ${report.since.replace('T', ' ').slice(0, 16)} UTC`];
  const sections = by === 'workspace' ? [report.rows] : groupByWorkspace(report.rows);
  for (const rows of sections) {
    if (by !== 'workspace') out.push('', `${sanitize(rows[0]?.workspace ?? '')}:`);
    const lines = rows.map((r) => [sanitize(r.key), ...cells(r)]);
    if (rows.length > 1) lines.push(['TOTAL', ...cells(sum(rows))]);
    out.push(...align([[KEY_HEADER[by], ...NUMBER_HEADERS], ...lines]));
  }
  if (sections.length === 0 || (sections.length === 1 && sections[0]!.length === 0)) out.push('no assistant messages in the window');
  return `${out.join('\n')}\n`;
}

function groupByWorkspace(rows: UsageRow[]): UsageRow[][] {
  const m = new Map<string, UsageRow[]>();
  for (const r of rows) {
    let list = m.get(r.workspace);
    if (!list) m.set(r.workspace, (list = []));
    list.push(r);
  }
  return [...m.values()];
}

function cells(r: UsageRow): string[] {
  const t = r.tokens;
  return [count(r.messages), count(t.input), count(t.output), count(t.reasoning), count(t.cacheRead), count(t.cacheWrite), dollars(r.cost)];
}

function sum(rows: UsageRow[]): UsageRow {
  const s: UsageRow = { workspace: '', key: 'TOTAL', messages: 0, tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0 };
  for (const r of rows) {
    s.messages += r.messages;
    s.tokens.input += r.tokens.input; s.tokens.output += r.tokens.output; s.tokens.reasoning += r.tokens.reasoning;
    s.tokens.cacheRead += r.tokens.cacheRead; s.tokens.cacheWrite += r.tokens.cacheWrite;
    s.cost += r.cost;
  }
  return s;
}

/** At most five characters: 99999, 123k, 1.23M, 12.3G. */
export function count(n: number): string {
  if (n < 100_000) return String(n);
  for (const [unit, size] of [['k', 1e3], ['M', 1e6], ['G', 1e9], ['T', 1e12]] as const) {
    const v = n / size;
    if (v < 999.5) return `${v < 9.995 ? v.toFixed(2) : v < 99.95 ? v.toFixed(1) : v.toFixed(0)}${unit}`;
  }
  return n.toExponential(0);
}

/** At most seven characters: $0.0123, $123.45, $12.3k. */
export function dollars(c: number): string {
  if (c < 9.99995) return `$${c.toFixed(4)}`;
  if (c < 999.995) return `$${c.toFixed(2)}`;
  return `$${count(Math.round(c))}`;
}

/** The key left-aligned and two spaces after it; the figures right-aligned, one space apart. */
function align(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[0]! + 1) : c.padStart(widths[i]!))).join(' ').trimEnd());
}
