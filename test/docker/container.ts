// A workspace container for the Docker tests: the real image, --network=none (only
// its loopback), reached by warren through `docker exec -i CTR /usr/sbin/sshd -i`.
// The fake model (container/fake-model) runs inside it on its loopback, from this
// checkout's dist/ and this host's node, both mounted read-only: the image has no
// node, and the test wrapper around the entrypoint starts the model on every
// container start, so it comes back after `docker restart` as sshd does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { fingerprintOfPublicKey, run, waitFor } from '../../container/testbed/index.js';
import { DOCKER, docker } from './engine.js';

// ssh2 is CommonJS: its utils come through the default export.
const { utils } = ssh2;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Every test container carries it, so a test can list (and a sweep remove) what a run left. */
export const TEST_LABEL = 'warren-docker-test';
export const USER = 'workspace';
const MODEL_PORT = 11434;

interface Teardown { teardown(fn: () => unknown): void }

export interface KeyPair { privateKeyPath: string; publicKey: string; fingerprint: string }

/** An ed25519 key pair in OpenSSH format, the private key 0600 in `dir`. */
export function keyPair(dir: string, name: string): KeyPair {
  const k = utils.generateKeyPairSync('ed25519', { comment: name });
  const privateKeyPath = path.join(dir, name);
  fs.writeFileSync(privateKeyPath, k.private, { mode: 0o600 });
  fs.writeFileSync(`${privateKeyPath}.pub`, `${k.public}\n`);
  return { privateKeyPath, publicKey: k.public, fingerprint: fingerprintOfPublicKey(k.public) };
}

/** warren's command transport to a container, as `warren add --docker` writes it. */
export function execTransport(name: string): { kind: 'command'; argv: string[] } {
  return { kind: 'command', argv: [DOCKER, 'exec', '-i', name, '/usr/sbin/sshd', '-i', '-e', '-f', '/etc/ssh/sshd_config', '-o', 'HostKey=/etc/ssh/ssh_host_ed25519_key'] };
}

export interface TestContainer {
  name: string;
  user: string;
  dir: string;
  client: KeyPair;
  /** The host key's fingerprint as the container presents it now. */
  hostKeyFingerprint(): Promise<string>;
  /** A workspace entry for the config file (command transport, no host). */
  entry(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Runs a command in the container as the workspace user, under a login shell's environment. */
  exec(argv: string[], o?: { timeoutMs?: number; root?: boolean }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Waits until sshd and the fake model are both up inside (after a start or restart). */
  ready(): Promise<void>;
  remove(): Promise<void>;
}

// The test wrapper: the fake model in the background, then the image's own entrypoint.
const WRAPPER = `rm -f /tmp/model.out /run/sshd.pid
/opt/warren-test/node /opt/warren-test/dist/container/fake-model/main.js --host 127.0.0.1 --port ${MODEL_PORT} --log-file /tmp/model.log >/tmp/model.out 2>&1 &
exec /usr/local/bin/warren-workspace-entrypoint`;

function opencodeConfig(): string {
  return JSON.stringify({
    $schema: 'https://opencode.ai/config.json',
    provider: {
      fake: {
        npm: '@ai-sdk/openai-compatible', name: 'Fake model (warren docker tests)',
        options: { baseURL: `http://127.0.0.1:${MODEL_PORT}/v1`, apiKey: 'testbed' },
        models: { 'fake-model': { name: 'Fake model' } },
      },
    },
    model: 'fake/fake-model', small_model: 'fake/fake-model', autoupdate: false, share: 'disabled',
  });
}

/**
 * Starts a workspace container from `image`. `hostKey`: a private host key file to
 * mount at /etc/warren/ssh_host_ed25519_key (the pin then survives re-creation).
 * `authorize: false` starts it with no authorized key (what `warren add` installs).
 * `client`: the key warren logs in with (default: a new one, removed with the container).
 */
export async function startContainer(t: Teardown, image: string, o: { hostKey?: string; authorize?: boolean; name?: string; client?: KeyPair } = {}): Promise<TestContainer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-docker-'));
  const name = o.name ?? `warren-t-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const client = o.client ?? keyPair(dir, 'client');
  const args = ['run', '-d', '--name', name, '--network=none', '--label', `${TEST_LABEL}=${process.pid}`,
    '-v', `${process.execPath}:/opt/warren-test/node:ro`, '-v', `${path.join(repoRoot, 'dist')}:/opt/warren-test/dist:ro`,
    ...(o.hostKey ? ['-v', `${o.hostKey}:/etc/warren/ssh_host_ed25519_key:ro`] : []),
    ...(o.authorize === false ? [] : ['-e', `WARREN_AUTHORIZED_KEY=${client.publicKey}`]),
    '--entrypoint', '/bin/sh', image, '-c', WRAPPER];
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    await run([DOCKER, 'rm', '-f', '-v', name], { timeoutMs: 60_000 });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(remove);
  await docker(args, { timeoutMs: 60_000 });
  const exec: TestContainer['exec'] = (argv, eo = {}) => run([DOCKER, 'exec', ...(eo.root ? [] : ['-u', USER]), name, 'sh', '-lc', '"$@"', 'sh', ...argv], { timeoutMs: eo.timeoutMs ?? 60_000 });
  const c: TestContainer = {
    name, user: USER, dir, client,
    hostKeyFingerprint: async () => {
      const r = await docker(['exec', name, 'ssh-keygen', '-lf', '/etc/ssh/ssh_host_ed25519_key.pub']);
      return /(SHA256:[A-Za-z0-9+/]{43})/.exec(r.stdout)![1]!;
    },
    entry: (extra = {}) => ({ user: USER, privateKeyPath: client.privateKeyPath, transport: execTransport(name), ...extra }),
    exec,
    ready: async () => {
      await waitFor(`container ${name}'s sshd and fake model`, async () => {
        const r = await run([DOCKER, 'exec', name, 'sh', '-c', `test -s /run/sshd.pid && grep -q 'fake-model listening' /tmp/model.out`], { timeoutMs: 10_000 });
        return r.code === 0;
      }, { timeoutMs: 60_000, intervalMs: 200 });
    },
    remove,
  };
  await c.ready();
  // opencode for the fake model, in the container's writable layer (it survives restarts).
  await run([DOCKER, 'exec', '-i', '-u', USER, name, 'sh', '-c',
    'mkdir -p ~/.config/opencode && cat > ~/.config/opencode/opencode.json && printf "%s\\n" "export OPENCODE_DISABLE_MODELS_FETCH=1" >> ~/.profile'],
  { timeoutMs: 30_000, input: opencodeConfig() });
  return c;
}

/** The test containers of this process still there (the last test asserts none). */
export async function leftContainers(): Promise<string[]> {
  const r = await run([DOCKER, 'ps', '-a', '--filter', `label=${TEST_LABEL}=${process.pid}`, '--format', '{{.Names}}'], { timeoutMs: 30_000 });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}
