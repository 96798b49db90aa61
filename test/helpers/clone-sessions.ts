// Many sessions at the cost of one: a real session, copied n-1 times inside opencode's
// own database (session, message and part rows), each copy's ids the template's with
// its last four characters replaced by the copy's number (still opencode's id shape).
// For usage over a thousand sessions (test/usage-scale.test.ts, bench/usage.ts):
// making them by prompting would cost opencode's CPU for each.
import type { Workspace } from '../../container/testbed/index.js';
import { opencodeDb } from './opencode-db.js';

export async function cloneSession(ws: Workspace, template: string, n: number): Promise<string[]> {
  if (!/^ses_[0-9A-Za-z]{26}$/.test(template) || n < 1 || n > 9999) throw new Error(`cloneSession: bad template ${template} or count ${n}`);
  const clone = (col: string) => `substr(${col},1,26)||printf('%04d',i)`;
  const numbers = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ${n - 1})`;
  await opencodeDb(ws, `BEGIN;\n${[
    `${numbers} INSERT INTO session SELECT ${clone('id')}, project_id, workspace_id, parent_id, slug, directory, path, title, version, share_url,
      summary_additions, summary_deletions, summary_files, summary_diffs, metadata, cost, tokens_input, tokens_output, tokens_reasoning,
      tokens_cache_read, tokens_cache_write, revert, permission, agent, model, time_created, time_updated, time_compacting, time_archived
      FROM session, n WHERE id = '${template}'`,
    `${numbers} INSERT INTO message SELECT ${clone('id')}, ${clone('session_id')}, time_created, time_updated, data FROM message, n WHERE session_id = '${template}'`,
    `${numbers} INSERT INTO part SELECT ${clone('id')}, ${clone('message_id')}, ${clone('session_id')}, time_created, time_updated, data FROM part, n WHERE session_id = '${template}'`,
  ].map((statement) => `${statement};`).join('\n')}\nCOMMIT;`);
  return [template, ...Array.from({ length: n - 1 }, (_, k) => `${template.slice(0, 26)}${String(k + 1).padStart(4, '0')}`)];
}
