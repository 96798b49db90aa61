// `warren sessions <workspace> [--json] [--config F]`: every session the workspace
// has, all projects and directories, newest first.
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { cliLogger, loadFor, openWorkspace, pickWorkspace } from '../context.js';
import { fitTable, formatTable } from '../table.js';
import { terminalWidth } from '../text-width.js';

export async function sessionsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { json: { type: 'boolean', default: false }, config: { type: 'string' }, 'keep-server': { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError('usage: warren sessions <workspace> [--json] [--config F]');
  const wsConfig = pickWorkspace(loadFor(values.config), positionals[0]);
  const rt = await openWorkspace(wsConfig, cliLogger());
  try {
    const rows = await rt.sessions();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    } else if (rows.length === 0) {
      process.stdout.write(`no sessions in workspace ${wsConfig.name}\n`);
    } else {
      const header = ['ID', 'UPDATED', 'DIRECTORY', 'TITLE', 'SOURCE'];
      const cells = rows.map((r) => [r.id, r.updated.replace('T', ' ').slice(0, 19), r.directory, r.title, r.source]);
      // On a terminal, titles then directories are cut to fit its width; a pipe gets them whole.
      if (process.stdout.isTTY) fitTable(header, cells, terminalWidth(process.stdout, process.env), [{ col: 3, min: 24 }, { col: 2, min: 24 }, { col: 4, min: 12 }, { col: 3, min: 12 }]);
      process.stdout.write(formatTable(header, cells));
    }
    return 0;
  } finally {
    await rt.close({ stopServer: rt.server.snapshot().startedHere && !values['keep-server'] });
  }
}
