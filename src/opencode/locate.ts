// Finding a session: in the server's own database first; otherwise in the other
// OpenCode data directories of the workspace (importFrom), from which it is
// exported and imported into the serving database. This is what makes a session
// created by the interactive CLI resumable: it may live under another HOME or
// XDG_DATA_HOME, or in a directory no server was started in.
import type { Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import { ImportError, InvalidSessionIdError, SessionNotFoundError } from '../errors.js';
import { callServer } from './api.js';
import { isSessionId } from './ids.js';
import type { OpencodeServer } from './server.js';

export interface SessionInfo { id: string; title: string; directory: string; time?: { created: number; updated: number } }

export interface Located { session: SessionInfo; imported: boolean; from: string | null }

export interface LocateContext {
  workspace: string;
  link: Link;
  server: OpencodeServer;
  /** XDG_DATA_HOME-style directories to search, in order. */
  importFrom: readonly string[];
  opencodeCommand: string;
  logger: Logger;
}

/** Exports a session from another data dir. $1 data dir, $2 opencode, $3 id. */
const EXPORT = `
set -u
case $1 in "~/"*) d="$HOME/\${1#"~/"}";; *) d=$1;; esac
[ -e "$d/opencode/opencode.db" ] || [ -d "$d/opencode/storage" ] || exit 4
XDG_DATA_HOME=$d "$2" export "$3"
`;

/** Imports an export read from stdin, in the session's directory. $1 dir, $2 opencode. */
const IMPORT = `
set -u
f=$(mktemp) || exit 5
trap 'rm -f "$f"' EXIT
cat > "$f"
if [ -d "$1" ]; then cd "$1"; else cd "$HOME"; fi
n=0
while :; do
  out=$("$2" import "$f" 2>&1) && exit 0
  n=$((n + 1))
  case $out in *"database is locked"*) [ "$n" -lt 10 ] && { sleep 0.3; continue; };; esac
  printf '%s\\n' "$out" >&2
  exit 6
done
`;

export function checkSessionId(id: string): void {
  if (!isSessionId(id)) throw new InvalidSessionIdError(id);
}

async function getSession(ctx: LocateContext, id: string): Promise<SessionInfo | null> {
  const r = await callServer<SessionInfo>(ctx.server, ctx.workspace, `/session/${id}`, { accept: [404] });
  return r.status === 404 ? null : r.body;
}

export async function locateSession(ctx: LocateContext, id: string): Promise<Located> {
  checkSessionId(id);
  await ctx.server.ensureRunning();
  const found = await getSession(ctx, id);
  if (found) return { session: found, imported: false, from: null };
  const searched = ['the server\'s database'];
  for (const dir of ctx.importFrom) {
    searched.push(dir);
    const ex = await ctx.link.exec(['sh', '-lc', EXPORT, 'warren-export', dir, ctx.opencodeCommand, id], { timeoutMs: 60_000, maxOutputBytes: 256 * 1024 * 1024 });
    if (ex.code !== 0 || !ex.stdout.trim().startsWith('{')) {
      ctx.logger.debug({ ws: ctx.workspace, dir, code: ex.code }, 'session not in this data directory');
      continue;
    }
    let directory: string;
    try {
      directory = (JSON.parse(ex.stdout) as { info: { directory: string } }).info.directory;
    } catch {
      continue;
    }
    ctx.logger.info({ ws: ctx.workspace, session: id, from: dir, directory }, 'importing session');
    const im = await ctx.link.exec(['sh', '-lc', IMPORT, 'warren-import', directory, ctx.opencodeCommand], { stdin: ex.stdout, timeoutMs: 60_000 });
    if (im.code !== 0) throw new ImportError(ctx.workspace, id, dir, im.stderr.trim().split('\n').pop() ?? `exit ${im.code}`);
    const now = await getSession(ctx, id);
    if (!now) throw new ImportError(ctx.workspace, id, dir, 'the server still does not know it after the import');
    return { session: now, imported: true, from: dir };
  }
  throw new SessionNotFoundError(ctx.workspace, id, searched);
}
