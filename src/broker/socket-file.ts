// Unix socket files: a stale one (its daemon crashed) is removed so listen works; a
// live one (another daemon answers) is never taken over.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ListenError } from '../errors.js';

export async function prepareSocketPath(file: string, what: string): Promise<void> {
  const dir = path.dirname(file);
  const created = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!created) {
    // Someone else could have made the directory first (in /tmp, say) to swap the socket.
    const d = fs.lstatSync(dir);
    const uid = process.getuid?.();
    if (!d.isDirectory() || (uid !== undefined && d.uid !== uid && d.uid !== 0) || (d.mode & 0o022) !== 0) {
      throw new ListenError(what, file, `the directory ${dir} must belong to this user (or root) and not be writable by others`);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ListenError(what, file, 'a file that is not a socket is in the way');
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(file);
    s.setTimeout(1000, () => { s.destroy(); resolve(true); });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new ListenError(what, file, 'another process is listening there (is a warren daemon running already?)');
  fs.rmSync(file, { force: true });
}

/** Listens on a unix socket that only this user can use (mode 0600, no window). */
export function listenPrivate(server: net.Server, file: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(new ListenError(what, file, err.message));
    server.once('error', fail);
    const old = process.umask(0o177);
    server.listen(file, () => {
      process.umask(old);
      server.off('error', fail);
      fs.chmodSync(file, 0o600);
      resolve();
    });
  });
}
