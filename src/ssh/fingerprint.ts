// Host key fingerprints as OpenSSH prints them (`ssh-keygen -lf`): "SHA256:" and the
// unpadded base64 of the SHA-256 of the raw public key blob.
import { createHash, timingSafeEqual } from 'node:crypto';

const FORMAT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function isFingerprint(s: string): boolean {
  return FORMAT.test(s);
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function fingerprintsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
