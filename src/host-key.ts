// Host key pins, shared by the config loader (which checks what a file pins) and the
// ssh layer (which checks what a server presents); neither may import the other.
// Fingerprints are as OpenSSH prints them (`ssh-keygen -lf`): "SHA256:" and the
// unpadded base64 of the SHA-256 of the raw public key blob.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The one form a pin takes. */
export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function isFingerprint(s: unknown): s is string {
  return typeof s === 'string' && FINGERPRINT.test(s);
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function fingerprintsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a host key's fingerprint is one of the pins (each compared in constant time). */
export function pinned(actual: string, pins: readonly string[]): boolean {
  return pins.some((pin) => fingerprintsEqual(actual, pin));
}

const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/**
 * The fingerprint of the public key in an OpenSSH public key line: a known_hosts line,
 * an `ssh-keyscan` line, or a bare "ssh-ed25519 AAAA... comment"; null when s holds none.
 * The blob must name its own type, as every OpenSSH key blob does, so text that only
 * looks like base64 after a type word is not taken for a key.
 */
export function fingerprintOfPublicKeyLine(s: string): string | null {
  const words = s.trim().split(/\s+/);
  for (let i = 0; i + 1 < words.length; i++) {
    const type = words[i]!;
    const b64 = words[i + 1]!;
    if (!KEY_TYPE.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const blob = Buffer.from(b64, 'base64');
    if (blob.length < 4) continue;
    const n = blob.readUInt32BE(0);
    if (n === type.length && blob.subarray(4, 4 + n).toString('latin1') === type) return fingerprintOf(blob);
  }
  return null;
}
