// The workspace image for the Docker tests, made once per machine and per change of
// its build inputs. No image registry is reachable here, so the base image
// (debian:bookworm-slim, the Dockerfile's FROM) is made from Debian's packages with
// debootstrap, its tarball cached on disk; the image is built with BuildKit, the
// host's network (for apt and npm only) and the host's CA as the `extra-ca` secret,
// and tagged by a hash of its build context, so an unchanged container/ is not rebuilt.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runOk } from '../../container/testbed/index.js';
import { CACHE_DIR, DOCKER, docker } from './engine.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CONTEXT_DIR = path.join(repoRoot, 'container');
export const BASE_IMAGE = 'debian:bookworm-slim';
const TARBALL = path.join(CACHE_DIR, 'bookworm-minbase.tar.gz');
const HOST_CAS = '/usr/local/share/ca-certificates';

async function imageExists(ref: string): Promise<boolean> {
  return (await run([DOCKER, 'image', 'inspect', ref], { timeoutMs: 30_000 })).code === 0;
}

/**
 * The build context's files: container/.dockerignore lists them as exceptions ("!name")
 * to ignoring everything, so the context (and with it this hash) is exactly what the
 * Dockerfile can use; the test bed, the fake model and the demo change no image.
 */
export function contextFiles(): string[] {
  const ignore = fs.readFileSync(path.join(CONTEXT_DIR, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  return ['.dockerignore', ...ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1))].sort();
}

export function imageTag(): string {
  const h = createHash('sha256');
  for (const f of contextFiles()) h.update(`${f}\0`).update(fs.readFileSync(path.join(CONTEXT_DIR, f))).update('\0');
  return `warren-workspace:${h.digest('hex').slice(0, 16)}`;
}

/** debian:bookworm-slim from a debootstrap tarball, made (about 4 min) only when not cached. Returns what it did. */
export async function ensureBaseImage(): Promise<'present' | 'imported' | 'debootstrapped'> {
  if (await imageExists(BASE_IMAGE)) return 'present';
  let made = false;
  if (!fs.existsSync(TARBALL)) {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const rootfs = fs.mkdtempSync(path.join(CACHE_DIR, 'rootfs-'));
    try {
      await runOk(['debootstrap', '--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian'], { timeoutMs: 1_200_000 });
      const tmp = `${TARBALL}.${process.pid}.tmp`;
      // Without apt's downloaded packages and lists (80 MB), as Docker's own slim image.
      await runOk(['sh', '-c', 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* && tar -C "$1" -c . | gzip -1 > "$2"', 'tar', rootfs, tmp], { timeoutMs: 600_000 });
      fs.renameSync(tmp, TARBALL);
      made = true;
    } finally {
      fs.rmSync(rootfs, { recursive: true, force: true });
    }
  }
  await docker(['import', TARBALL, BASE_IMAGE], { timeoutMs: 600_000 });
  return made ? 'debootstrapped' : 'imported';
}

/** The host's extra CAs in one PEM file (0600, removed by the caller), or null when it has none. */
function hostCaBundle(dir: string): string | null {
  const pems = fs.existsSync(HOST_CAS) ? fs.readdirSync(HOST_CAS).filter((f) => f.endsWith('.crt')).sort() : [];
  if (pems.length === 0) return null;
  const file = path.join(dir, 'extra-ca.pem');
  fs.writeFileSync(file, pems.map((f) => fs.readFileSync(path.join(HOST_CAS, f), 'utf8').trim()).join('\n') + '\n', { mode: 0o600 });
  return file;
}

/** `docker build` of container/ as BuildKit does it here; the CA goes in as a secret, never into a layer. */
export async function buildImage(tag: string, o: { withCa?: boolean } = {}): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-build-'));
  try {
    const ca = o.withCa === false ? null : hostCaBundle(dir);
    await docker(['build', '--network=host', '--progress=plain', ...(ca ? ['--secret', `id=extra-ca,src=${ca}`] : []), '-t', tag, CONTEXT_DIR],
      { timeoutMs: 1_800_000, env: { ...process.env, DOCKER_BUILDKIT: '1' } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The image for the current container/, built only when its tag is not there yet. */
export async function ensureImage(): Promise<{ tag: string; built: boolean }> {
  // An image built elsewhere (or before a change), to test as it is.
  const given = process.env.WARREN_DOCKER_IMAGE;
  if (given) {
    if (!(await imageExists(given))) throw new Error(`WARREN_DOCKER_IMAGE=${given}: no such image`);
    return { tag: given, built: false };
  }
  const tag = imageTag();
  if (await imageExists(tag)) return { tag, built: false };
  await buildImage(tag);
  return { tag, built: true };
}

/** The host CA's certificates, to look for in an image: none may be in any layer. */
export function hostCaBodies(): string[] {
  if (!fs.existsSync(HOST_CAS)) return [];
  return fs.readdirSync(HOST_CAS).filter((f) => f.endsWith('.crt')).map((f) => {
    const pem = fs.readFileSync(path.join(HOST_CAS, f), 'utf8');
    // One line from the middle of the base64 body: in a layer it would appear as is.
    const lines = pem.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
    return lines[Math.floor(lines.length / 2)] ?? '';
  }).filter((l) => l !== '');
}
