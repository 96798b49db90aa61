// The gateway's bearer token: from the config, or generated once into a file only
// this user can read, whose path (never the token) is logged.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the daemon keeps what outlives it: /var/lib/warren as root, else $XDG_STATE_HOME/warren. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/warren';
  const state = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'warren');
}

export function defaultTokenFile(): string {
  return path.join(defaultStateDir(), 'token');
}

export interface Token { value: string; file: string | null; generated: boolean }

export function resolveToken(o: { token: string | null; tokenFile: string | null }): Token {
  if (o.token) return { value: o.token, file: null, generated: false };
  const file = o.tokenFile ?? defaultTokenFile();
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing) {
      fs.chmodSync(file, 0o600);
      return { value: existing, file, generated: false };
    }
  } catch { /* none yet */ }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'w' });
  fs.chmodSync(file, 0o600);
  return { value, file, generated: true };
}
