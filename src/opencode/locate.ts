// Finding a session: in the server's own database first; otherwise in the other
// OpenCode data directories of the workspace (importFrom), from which it is
// exported and imported into the serving database. This is what makes a session
// created by the interactive CLI resumable: it may live under another HOME or
// XDG_DATA_HOME, or in a directory no server was started in.
import type { Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import { DatabaseLockedError, ImportError, InvalidSessionIdError, SessionNotFoundError } from '../errors.js';
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
  /** One line for a person watching (a command on a terminal): what is taking time now. */
  onProgress?: ((line: string) => void) | undefined;
}

/** How long an export or import waits for another process's write lock on a database. */
export const LOCK_WAIT_S = 10;

// opencode 1.18 reports a busy database only as "Failed query: …" after its own 5 s
// busy timeout, so the lock is found where SQLite keeps it: a WAL database's writer
// holds an fcntl write lock on byte 120 of its -shm file, listed in /proc/locks with
// the holder's pid. Waiting for that, rather than retrying blind, ends the wait as
// soon as the holder lets go, and names the holder when it does not. Callers set
// end (epoch seconds).
const LOCK_FUNCTIONS = `
holder() {
  [ -e "$1-shm" ] || return 0
  ino=$(stat -c %i "$1-shm" 2>/dev/null) || return 0
  awk -v ino="$ino" '$2 == "POSIX" && $4 == "WRITE" && $7 == 120 { n = split($6, f, ":"); if (f[n] == ino) { print $5; exit } }' /proc/locks 2>/dev/null
}
unlocked() {
  while p=$(holder "$1"); [ -n "$p" ]; do
    if [ "$(date +%s)" -ge "$end" ]; then
      printf 'locked %s %s %s\\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null || echo unknown)" "$1" >&2
      return 1
    fi
    sleep 0.2
  done
}
retryable() {
  [ "$(date +%s)" -lt "$end" ] || return 1
  [ -n "$(holder "$1")" ] && return 0
  case $2 in *"database is locked"*) sleep 0.3; return 0;; esac
  return 1
}
`;

/** Exports a session from another data dir. $1 data dir, $2 opencode, $3 id, $4 lock wait (s). Exit 7: locked. */
const EXPORT = `
set -u
case $1 in "~/"*) d="$HOME/\${1#"~/"}";; *) d=$1;; esac
db="$d/opencode/opencode.db"
[ -e "$db" ] || [ -d "$d/opencode/storage" ] || exit 4
end=$(( $(date +%s) + $4 ))
${LOCK_FUNCTIONS}
exec 3>&1
while :; do
  unlocked "$db" || exit 7
  err=$(XDG_DATA_HOME=$d "$2" export "$3" 2>&1 >&3) && exit 0
  retryable "$db" "$err" && continue
  unlocked "$db" || exit 7
  printf '%s\\n' "$err" >&2
  exit 1
done
`;

/**
 * Imports an export read from stdin, in the session's directory, into the serving
 * database. $1 dir, $2 opencode, $3 lock wait (s). Exit 5: no room for the copy;
 * 7: locked; 6: opencode failed.
 */
const IMPORT = `
set -u
db="\${XDG_DATA_HOME:-$HOME/.local/share}/opencode/opencode.db"
end=$(( $(date +%s) + $3 ))
${LOCK_FUNCTIONS}
tmp=\${TMPDIR:-/tmp}
f=$(mktemp 2>&1) || { printf 'cannot make a temporary file in %s (%s): free space there and send again\\n' "$tmp" "$f" >&2; exit 5; }
trap 'rm -f "$f"' EXIT
# A short copy (a full disk) would be an import of a truncated file: stop here instead.
err=$(cat 2>&1 > "$f") || { printf 'cannot write a temporary copy of the export in %s (%s): free space there and send again\\n' "$tmp" "$err" >&2; exit 5; }
if [ -d "$1" ]; then cd "$1"; else cd "$HOME"; fi
while :; do
  unlocked "$db" || exit 7
  out=$("$2" import "$f" 2>&1) && exit 0
  retryable "$db" "$out" && continue
  unlocked "$db" || exit 7
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
    const ex = await ctx.link.exec(['sh', '-lc', EXPORT, 'warren-export', dir, ctx.opencodeCommand, id, String(LOCK_WAIT_S)], { timeoutMs: 60_000, maxOutputBytes: 256 * 1024 * 1024 });
    // Locked is not "not here": the session may well be in it.
    if (ex.code === 7) throw locked(ctx.workspace, id, ex.stderr);
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
    ctx.onProgress?.(`importing session ${id} from ${dir}…`);
    const im = await ctx.link.exec(['sh', '-lc', IMPORT, 'warren-import', directory, ctx.opencodeCommand, String(LOCK_WAIT_S)], { stdin: ex.stdout, timeoutMs: 60_000 });
    if (im.code === 7) throw locked(ctx.workspace, id, im.stderr);
    if (im.code !== 0) throw new ImportError(ctx.workspace, id, dir, failureLine(im.stderr) || `exit ${im.code}`);
    const now = await getSession(ctx, id);
    if (!now) throw new ImportError(ctx.workspace, id, dir, 'the server still does not know it after the import');
    return { session: now, imported: true, from: dir };
  }
  throw new SessionNotFoundError(ctx.workspace, id, searched);
}

/** From the script's "locked PID COMM DB" line: the pid and program name only, never a command line. */
function locked(workspace: string, id: string, stderr: string): DatabaseLockedError {
  const m = /^locked (\d+) (\S+) (.+)$/m.exec(stderr);
  return new DatabaseLockedError(workspace, id, m?.[3] ?? 'an OpenCode database', m ? `another process (pid ${m[1]}, ${m[2]})` : 'another process', LOCK_WAIT_S);
}

/** The line of opencode's output that says what failed: colours and its "params:" dump left out. */
function failureLine(stderr: string): string {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('params:'));
  return lines.pop() ?? '';
}
