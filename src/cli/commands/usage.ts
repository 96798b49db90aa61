// `warren usage [workspace] [--since 24h] [--by session|model|day] [--json]
// [--config F | --socket PATH]`: what the agents cost. With --socket, or when the
// daemon answers on its default socket, the daemon reads it (it keeps what it read,
// so asking again costs what changed); with --config, or without a daemon, this
// command opens each workspace's link itself. Bad words are exit 2 before anything
// is opened; a workspace that cannot be read is one line on stderr and exit 1, the
// others' rows printed all the same.
import { parseArgs } from 'node:util';
import { askDaemon } from '../../broker/control-client.js';
import { defaultSocketPath } from '../../broker/control-path.js';
import { parseUsageQuery, usageReport, type UsageQuery, type UsageReport } from '../../broker/usage.js';
import { isWarrenError, UsageError } from '../../errors.js';
import { cliLogger, loadFor, openWorkspace, pickWorkspace } from '../context.js';
import { formatUsage } from '../usage-view.js';

const USAGE = 'usage: warren usage [workspace] [--since 24h] [--by session|model|day] [--json] [--config F | --socket PATH]';

/** A daemon reading a thousand sessions for the first time takes seconds; the answer is worth the wait, not for ever. */
const DAEMON_USAGE_TIMEOUT_MS = 120_000;

export async function usageCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      since: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean', default: false },
      config: { type: 'string' }, socket: { type: 'string' },
    },
  });
  if (positionals.length > 1) throw new UsageError(`one workspace at most; ${USAGE}`);
  if (values.config !== undefined && values.socket !== undefined) throw new UsageError(`--config reads the workspaces here, --socket asks the daemon: give one; ${USAGE}`);
  if (values.socket === '') throw new UsageError('--socket needs a path');
  const name = positionals[0];
  const q = parseUsageQuery(values.since, values.by);
  const report = values.config !== undefined
    ? await readHere(values.config, name, q)
    : await askTheDaemon(values.socket, name, values.since, values.by, q);
  if (name !== undefined && report.errors?.length) {
    process.stderr.write(`warren: ${report.errors[0]!.message}\n`);
    return 1;
  }
  process.stdout.write(values.json ? `${JSON.stringify({ since: report.since, rows: report.rows }, null, 2)}\n` : formatUsage(report, q.by));
  for (const e of report.errors ?? []) process.stderr.write(`warren: ${e.workspace}: ${e.message}\n`);
  return report.errors?.length ? 1 : 0;
}

/** The daemon's answer; with no daemon on the default socket (none named), the workspaces read here. */
async function askTheDaemon(socket: string | undefined, name: string | undefined, since: string | undefined, by: string | undefined, q: UsageQuery): Promise<UsageReport> {
  const path = socket ?? defaultSocketPath();
  try {
    return await askDaemon(path, { cmd: 'usage', ...(name !== undefined ? { workspace: name } : {}), ...(since !== undefined ? { since } : {}), ...(by !== undefined ? { by } : {}) }, DAEMON_USAGE_TIMEOUT_MS) as UsageReport;
  } catch (err) {
    if (socket === undefined && isWarrenError(err) && err.code === 'WARREN_ERR_NO_DAEMON') return readHere(undefined, name, q);
    // The daemon knows no such workspace: the person's words, exit 2 as when read here.
    if (isWarrenError(err) && (err.code === 'WARREN_ERR_UNKNOWN_WORKSPACE' || err.code === 'WARREN_ERR_BAD_REQUEST')) throw new UsageError(err.message);
    throw err;
  }
}

/** Each workspace's own link, side by side; servers started here are stopped again. */
async function readHere(configPath: string | undefined, name: string | undefined, q: UsageQuery): Promise<UsageReport> {
  const config = loadFor(configPath);
  const workspaces = name !== undefined ? [pickWorkspace(config, name)] : [...config.workspaces.values()];
  const logger = cliLogger();
  return usageReport(workspaces.map((ws) => ({
    name: ws.name,
    usage: async (qq) => {
      const rt = await openWorkspace(ws, logger);
      try {
        return await rt.usage(qq);
      } finally {
        await rt.close({ stopServer: rt.server.snapshot().startedHere });
      }
    },
  })), q);
}
