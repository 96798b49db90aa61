// `warren check [--config F] [--json] [workspace...]`: what `sshd -t` and `promtool
// check config` are to their daemons. Every problem of the config at once (exit 2),
// then each workspace proven end to end, one step a row with what to do for each
// failure (exit 1 when any fails). Starts nothing, changes nothing, needs no daemon.
import { parseArgs } from 'node:util';
import { probeWorkspace, type WorkspaceProbe } from '../../broker/probe.js';
import { checkConfigFile, defaultConfigPath } from '../../config/index.js';
import { UsageError } from '../../errors.js';
import { Semaphore } from '../../ssh/semaphore.js';
import { cliLogger } from '../context.js';

/** Handshakes at once: below sshd's MaxStartups start (10) when workspaces share one sshd. */
const PARALLEL = 8;

export interface CheckReport {
  config: { path: string; ok: boolean; workspaces: number; problems: Array<{ key: string | null; message: string }> };
  workspaces: WorkspaceProbe[];
}

export async function checkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (values.config === '') throw new UsageError('--config needs a file path');
  const file = values.config ?? defaultConfigPath();
  const read = checkConfigFile(file);
  if (!read.config) {
    const report: CheckReport = { config: { path: read.path, ok: false, workspaces: 0, problems: read.problems }, workspaces: [] };
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : configLines(report));
    return 2;
  }
  const config = read.config;
  for (const name of positionals) {
    if (!config.workspaces.has(name)) {
      const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
      throw new UsageError(`no workspace ${shown} in ${config.path ?? file} (it has: ${[...config.workspaces.keys()].join(', ')})`);
    }
  }
  const chosen = positionals.length > 0 ? [...new Set(positionals)] : [...config.workspaces.keys()];
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const limiter = new Semaphore(PARALLEL);
    const logger = cliLogger();
    const probes = await Promise.all(chosen.map((name) => probeWorkspace(config.workspaces.get(name)!, { logger, limiter, signal: abort.signal })));
    const report: CheckReport = { config: { path: config.path ?? file, ok: true, workspaces: config.workspaces.size, problems: [] }, workspaces: probes };
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : configLines(report) + probes.map(workspaceLines).join('') + summaryLine(probes));
    return probes.every((p) => p.ok) ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function configLines(r: CheckReport): string {
  if (r.config.ok) return `config ${r.config.path}: ok, ${r.config.workspaces} workspace${r.config.workspaces === 1 ? '' : 's'}\n\n`;
  const n = r.config.problems.length;
  return `config ${r.config.path}: ${n} problem${n === 1 ? '' : 's'}\n${r.config.problems.map((p) => `  ${p.key ? `${p.key}: ` : ''}${p.message}\n`).join('')}`;
}

const MARK = { ok: 'ok', fail: 'FAIL', skipped: '-' } as const;

function workspaceLines(p: WorkspaceProbe): string {
  const rows: string[] = [];
  for (const s of p.steps.filter((x) => x.status !== 'skipped')) {
    rows.push(`  ${MARK[s.status].padEnd(5)}${s.step.padEnd(12)}${s.detail}\n`);
    if (s.fix) rows.push(`${' '.repeat(19)}fix: ${s.fix}\n`);
  }
  const skipped = p.steps.filter((x) => x.status === 'skipped').map((x) => x.step);
  if (skipped.length > 0) rows.push(`  ${MARK.skipped.padEnd(5)}${skipped.join(', ')}: not tried, since a step before failed\n`);
  return `${p.workspace} (${p.target})\n${rows.join('')}\n`;
}

function summaryLine(probes: WorkspaceProbe[]): string {
  const failed = probes.filter((p) => !p.ok).map((p) => p.workspace);
  if (failed.length === 0) return `all ${probes.length} workspace${probes.length === 1 ? '' : 's'} ok\n`;
  return `${failed.length} of ${probes.length} workspace${probes.length === 1 ? '' : 's'} failed: ${failed.join(', ')}\n`;
}
