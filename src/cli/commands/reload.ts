// `warren reload [--socket PATH]`: asks the running daemon to read its config file
// again, and says what changed. A file that does not load changes nothing: the
// daemon's report (every problem) goes to stderr and the exit code is 2, so
// `systemctl reload warren` (ExecReload=warren reload) fails visibly.
import { parseArgs } from 'node:util';
import { askDaemon } from '../../broker/control-client.js';
import { defaultSocketPath } from '../../broker/control-path.js';
import type { ReloadReport } from '../../broker/config-reload.js';
import { ControlError, UsageError } from '../../errors.js';
import { escapeUnsafe } from '../../text.js';

const USAGE = 'usage: warren reload [--socket PATH]';
/** Removed or changed workspaces stop their servers (up to 20 s each, in parallel) before the daemon answers. */
export const RELOAD_TIMEOUT_MS = 60_000;

export interface ReloadIo { out: { write(s: string): unknown }; err: { write(s: string): unknown }; env: NodeJS.ProcessEnv }

export async function reloadCommand(argv: string[], io: ReloadIo = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { socket: { type: 'string' } } });
  if (positionals.length > 0) throw new UsageError(USAGE);
  if (values.socket === '') throw new UsageError('--socket needs a path');
  const socketPath = values.socket ?? defaultSocketPath(io.env);
  const report = reportOf(await askDaemon(socketPath, { cmd: 'reload' }, RELOAD_TIMEOUT_MS), socketPath);
  if (!report.reloaded) {
    io.err.write(formatFailure(report));
    return 2;
  }
  io.out.write(formatSuccess(report));
  return 0;
}

export function formatSuccess(r: Extract<ReloadReport, { reloaded: true }>): string {
  const names = (list: string[]) => (list.length ? list.map((n) => escapeUnsafe(n)).join(', ') : '-');
  const w = r.workspaces;
  const lines = [
    `reloaded ${escapeUnsafe(r.path)}`,
    `  added:     ${names(w.added)}`,
    `  removed:   ${names(w.removed)}`,
    `  changed:   ${names(w.changed)}`,
    `  unchanged: ${names(w.unchanged)}`,
  ];
  if (r.nextStart.length > 0) lines.push(`note: ${r.nextStart.join(' and ')} changed; that applies at the next start of the daemon`);
  return `${lines.join('\n')}\n`;
}

export function formatFailure(r: Extract<ReloadReport, { reloaded: false }>): string {
  const n = r.problems.length;
  const lines = [`warren: reload refused, the daemon keeps its running config: ${escapeUnsafe(r.path)} has ${n} problem${n === 1 ? '' : 's'}:`];
  for (const p of r.problems) lines.push(`  ${p.key === null ? '' : `${escapeUnsafe(p.key)}: `}${escapeUnsafe(p.message)}`);
  return `${lines.join('\n')}\n`;
}

/** The reply's shape checked, so a foreign daemon fails with a message rather than a TypeError. */
function reportOf(reply: unknown, socketPath: string): ReloadReport {
  const r = reply as Partial<Record<string, unknown>> | null;
  const list = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const w = r?.workspaces as Partial<Record<string, unknown>> | undefined;
  const ok = typeof r?.path === 'string' && (r.reloaded === true
    ? list(w?.added) && list(w?.removed) && list(w?.changed) && list(w?.unchanged) && list(r.nextStart)
    : r?.reloaded === false && Array.isArray(r.problems) && r.problems.every((p: { key?: unknown; message?: unknown }) => (p.key === null || typeof p.key === 'string') && typeof p.message === 'string'));
  if (!ok) throw new ControlError(`the warren daemon on ${socketPath} answered the reload with something unexpected; is it a warren daemon of this version?`);
  return reply as ReloadReport;
}
