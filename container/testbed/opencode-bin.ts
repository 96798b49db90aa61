// The pinned opencode (package.json config.opencodeVersion), installed once from
// npm into a world-readable cache, so that unprivileged workspace users can run it
// wherever the project is checked out. It is not a package.json dependency: the
// registry here serves only some platforms' binaries, and npm ci would then
// reject any lock file that names opencode-ai.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testbedRoot } from './slots.js';
import { runOk } from './run.js';

const pkgJson = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'package.json');

export function opencodeVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { config: { opencodeVersion: string } };
  return pkg.config.opencodeVersion;
}

function platformBinary(prefix: string): string {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const candidates = [`opencode-linux-${arch}`, `opencode-linux-${arch}-baseline`, `opencode-linux-${arch}-musl`]
    .map((p) => path.join(prefix, 'node_modules', p, 'bin', 'opencode'));
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`testbed: npm installed opencode-ai but no Linux ${arch} binary came with it`);
  return found;
}

/**
 * Returns the path of the pinned `opencode`, installing it on first use. Set
 * WARREN_OPENCODE_BIN to use a binary already on the machine; it must be the pinned
 * version and readable by workspace users.
 */
export async function opencodeBinary(): Promise<string> {
  const version = opencodeVersion();
  const given = process.env.WARREN_OPENCODE_BIN;
  if (given) {
    const r = await runOk([given, '--version'], { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`testbed: WARREN_OPENCODE_BIN=${given} does not run: ${err.message}`);
    });
    if (r.stdout.trim() !== version) {
      throw new Error(`testbed: WARREN_OPENCODE_BIN=${given} is opencode ${r.stdout.trim()}, the pin is ${version}`);
    }
    return given;
  }
  const dir = path.join(testbedRoot(), `opencode-${version}`);
  const target = path.join(dir, 'opencode');
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-opencode-'));
  try {
    // Scripts stay off: the wrapper's postinstall only links the same binary.
    await runOk(['npm', 'install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts',
      '--no-package-lock', `opencode-ai@${version}`], { timeoutMs: 300_000 });
    // Copy then rename: parallel test processes may race here, and rename is atomic.
    const tmp = `${target}.${process.pid}.tmp`;
    fs.copyFileSync(platformBinary(prefix), tmp);
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, target);
  } finally {
    fs.rmSync(prefix, { recursive: true, force: true });
  }
  return target;
}
