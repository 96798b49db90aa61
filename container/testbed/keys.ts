// Key material for a workspace: an ed25519 host key for its sshd and an ed25519
// client key warren logs in with. Fingerprints are computed the way `ssh-keygen -lf`
// prints them: SHA256 of the raw public key blob, base64 without padding.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { runOk } from './run.js';

export async function generateKey(file: string, comment: string): Promise<void> {
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export function publicKeyLine(pubFile: string): string {
  return fs.readFileSync(pubFile, 'utf8').trim();
}

export function fingerprintOfPublicKey(line: string): string {
  const blob = line.split(/\s+/)[1];
  if (!blob) throw new Error('not an OpenSSH public key line');
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}
