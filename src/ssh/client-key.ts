// The client key a new workspace entry logs in with: an existing private key file
// (its public half derived here), or a new ed25519 pair written next to the config,
// the private key 0600 in a 0700 directory. The private key never leaves the file:
// only its public half is printed or sent anywhere.
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { UsageError } from '../errors.js';

// ssh2 is CommonJS: its utils come through the default export.
const { utils } = ssh2;

export interface ClientKey {
  privateKeyPath: string;
  /** "ssh-ed25519 AAAA…", no comment. */
  publicKey: string;
  /** The base64 blob alone, to find the key in an authorized_keys file. */
  publicBlob: string;
  origin: 'generated' | 'existing';
}

function publicOf(file: string, text: string): Pick<ClientKey, 'publicKey' | 'publicBlob'> {
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new UsageError(`${file} is not a private key warren can use${key instanceof Error ? ` (${key.message})` : ''}`);
  if (!key.isPrivateKey()) throw new UsageError(`${file} is a public key: give the private key file`);
  const publicBlob = key.getPublicSSH().toString('base64');
  return { publicKey: `${key.type} ${publicBlob}`, publicBlob };
}

/** An existing private key file, which must parse without a passphrase (the config has none). */
export function existingKey(file: string): ClientKey {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the key ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { privateKeyPath: abs, ...publicOf(abs, text), origin: 'existing' };
}

/**
 * The key at `file`: used as it is when it exists (a re-run after a failed check
 * reuses it; no key is ever overwritten), else a new ed25519 pair written there.
 */
export function keyAt(file: string, comment: string): ClientKey {
  const abs = path.resolve(file);
  if (fs.existsSync(abs)) return existingKey(abs);
  fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  // wx: two adds racing for one name do not overwrite each other's key.
  fs.writeFileSync(abs, pair.private, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(`${abs}.pub`, `${pair.public}\n`, { mode: 0o644 });
  return { privateKeyPath: abs, ...publicOf(abs, pair.private), origin: 'generated' };
}
