// Opencode's own database inside a test-bed workspace, read and written with the
// sqlite3 command line as the workspace user: test fixtures and oracles only. It
// costs milliseconds where `opencode db` or `opencode export` cost about 3 s of CPU
// (a whole opencode start), and it runs every statement it is given, where
// `opencode db` runs only the first.
import type { Workspace } from '../../container/testbed/index.js';

export function opencodeDbPath(ws: Workspace): string {
  return `${ws.home}/.local/share/opencode/opencode.db`;
}

/** Runs the SQL; the rows of its last statement, as sqlite3's JSON gives them. */
export async function opencodeDb<T = Record<string, unknown>>(ws: Workspace, sql: string): Promise<T[]> {
  const r = await ws.runAsUser(['sqlite3', '-json', '-bail', '-cmd', '.timeout 10000', opencodeDbPath(ws), sql], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`sqlite3 on opencode's database failed: ${r.stderr.slice(-300)}`);
  return (r.stdout.trim() ? JSON.parse(r.stdout) : []) as T[];
}

/** A session id fit to stand in SQL: opencode's id shape, nothing else. */
export function sqlSessionId(id: string): string {
  if (!/^ses_[0-9A-Za-z]{26}$/.test(id)) throw new Error(`not a session id: ${JSON.stringify(id)}`);
  return `'${id}'`;
}
