// Every session a workspace has: those the server knows (all projects and
// directories), and those only in the other data directories (importFrom), which
// a message to them would import.
import { callServer } from './api.js';
import type { LocateContext } from './locate.js';

export interface SessionRow {
  id: string;
  title: string;
  directory: string;
  /** ISO time of the last update. */
  updated: string;
  /** "server", or the data directory it lives in (imported on first use). */
  source: string;
}

interface GlobalSession { id: string; title: string; directory: string; time: { updated: number }; parentID?: string }

/** Lists sessions of another data directory. $1 data dir, $2 opencode. The query is a constant. */
const LIST_OTHER = `
set -u
case $1 in "~/"*) d="$HOME/\${1#"~/"}";; *) d=$1;; esac
[ -e "$d/opencode/opencode.db" ] || exit 4
XDG_DATA_HOME=$d "$2" db "select id, title, directory, time_updated from session where parent_id is null" --format json
`;

/** The same as locating a session needs: the server, the link, where else sessions live. */
export async function listSessions(ctx: LocateContext): Promise<SessionRow[]> {
  await ctx.server.ensureRunning();
  const r = await callServer<GlobalSession[]>(ctx.server, ctx.workspace, '/experimental/session?roots=true&limit=10000');
  const rows: SessionRow[] = r.body.filter((s) => !s.parentID).map((s) => ({
    id: s.id, title: s.title, directory: s.directory, updated: new Date(s.time.updated).toISOString(), source: 'server',
  }));
  const known = new Set(rows.map((s) => s.id));
  for (const dir of ctx.importFrom) {
    const ex = await ctx.link.exec(['sh', '-lc', LIST_OTHER, 'warren-list', dir, ctx.opencodeCommand], { timeoutMs: 60_000 });
    if (ex.code !== 0) continue;
    let other: Array<{ id: string; title: string; directory: string; time_updated: number }>;
    try {
      other = JSON.parse(ex.stdout);
    } catch {
      ctx.logger.warn({ ws: ctx.workspace, dir }, 'could not read the session list of a data directory');
      continue;
    }
    for (const s of other) {
      if (known.has(s.id)) continue;
      known.add(s.id);
      rows.push({ id: s.id, title: s.title, directory: s.directory, updated: new Date(Number(s.time_updated)).toISOString(), source: dir });
    }
  }
  return rows.sort((a, b) => b.updated.localeCompare(a.updated));
}
