// Where the daemon's control socket lives unless --socket says otherwise. The daemon
// and `warren status` both call this, so they agree without configuration.
import path from 'node:path';

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (env.WARREN_SOCKET) return env.WARREN_SOCKET;
  // The per-user runtime dir is private (0700) and cleaned at logout: the right home for a 0600 socket.
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'warren.sock');
  if (uid === 0) return '/run/warren/warren.sock';
  // Per-uid so two users on one host never collide; the daemon creates the directory 0700.
  return `/tmp/warren-${uid ?? 'user'}/warren.sock`;
}
