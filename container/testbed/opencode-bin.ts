// The pinned opencode binary, copied once into a world-readable cache so that
// unprivileged workspace users can run it wherever the project is checked out
// (a clone under a private directory would not be reachable for them).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { testbedRoot } from './slots.js';

const require = createRequire(import.meta.url);

export function opencodeVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(require.resolve('opencode-ai/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function installedBinary(): string {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  for (const pkg of [`opencode-linux-${arch}`, `opencode-linux-${arch}-baseline`]) {
    try {
      const bin = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'opencode');
      if (fs.existsSync(bin)) return bin;
    } catch { /* next candidate */ }
  }
  const wrapper = path.join(path.dirname(require.resolve('opencode-ai/package.json')), 'bin', 'opencode.exe');
  if (fs.existsSync(wrapper)) return wrapper;
  throw new Error('testbed: the opencode binary is not installed; run npm ci');
}

/** Returns the directory holding `opencode`, ready to put on a workspace user's PATH. */
export function opencodeBinDir(): string {
  const dir = path.join(testbedRoot(), `opencode-${opencodeVersion()}`);
  const target = path.join(dir, 'opencode');
  if (fs.existsSync(target)) return dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  // Copy then rename: parallel test processes may race here, and rename is atomic.
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(installedBinary(), tmp);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, target);
  return dir;
}
