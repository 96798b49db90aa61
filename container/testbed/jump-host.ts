// A jump host (bastion) for the test bed: a real sshd in the host's own network
// namespace, on a 127.0.0.1 port, that permits local forwards anywhere. From there
// every test-bed workspace's sshd is reachable at its 198.18.x.2 address (the host
// holds the other end of each veth), while the workspaces cannot reach one another:
// just what a bastion in front of containers is. Its own user and keys, in a slot
// like a workspace's, so teardown and the sweep of crashed runs find it the same way.
// Logs at VERBOSE, where sshd names each connection it drops past MaxStartups.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { claimSlot, writeOwner } from './slots.js';
import { generateKey, publicKeyLine, fingerprintOfPublicKey } from './keys.js';
import { createUser } from './user.js';
import { run } from './run.js';
import { waitFor } from './wait.js';
import { teardownSlotSync } from './teardown.js';
import { commOf, descendants, freePort, processAlive } from './workspace.js';

const SSHD = '/usr/sbin/sshd';

export interface JumpHost {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  readonly hostKeyFingerprint: string;
  readonly logPath: string;
  /** SIGKILLs the listener and every per-connection sshd, and waits until they are gone. */
  killSshd(): Promise<void>;
  /** Starts sshd again on the same port, after killSshd(). */
  startSshd(): Promise<void>;
  /** Established TCP connections to its sshd right now (ss). */
  connections(): Promise<number>;
  /** Lines of its log since it was made that match `re` (logins: /Accepted publickey/; throttling: /MaxStartups/). */
  logLines(re: RegExp): number;
  close(): Promise<void>;
}

function sshdConfig(o: { maxStartups: string }): string {
  return [
    '# warren test bed: a jump host. Keys only, local forwards only, no sessions worth having.',
    'PubkeyAuthentication yes', 'AuthenticationMethods publickey', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'UsePAM no', 'PermitRootLogin no', 'StrictModes yes', 'MaxAuthTries 3', 'LoginGraceTime 20',
    'AllowTcpForwarding local', 'PermitOpen any', 'PermitListen none', 'GatewayPorts no', 'AllowStreamLocalForwarding no',
    'AllowAgentForwarding no', 'X11Forwarding no', 'PermitTTY no', 'PermitTunnel no', 'PermitUserRC no',
    'ForceCommand /bin/false', 'ClientAliveInterval 15', 'ClientAliveCountMax 3',
    `MaxStartups ${o.maxStartups}`, 'PrintMotd no', 'Banner none', 'LogLevel VERBOSE', '',
  ].join('\n');
}

/** Needs root: the jump host's sshd runs as root in the host's namespace, with a user of its own. */
export async function createJumpHost(o: { name?: string; maxStartups?: string } = {}): Promise<JumpHost> {
  if (process.getuid?.() !== 0) throw new Error('testbed: a jump host needs root (its sshd runs in the host namespace with its own user)');
  const name = o.name ?? 'jump';
  const names = claimSlot(name, 'loopback');
  const { dir } = names;
  const pids: { sshdPid?: number } = {};
  const saveOwner = () => writeOwner(dir, { pid: process.pid, mode: 'loopback', name, createdUser: true, ...pids });
  try {
    saveOwner();
    const home = path.join(dir, 'home');
    const privateDir = path.join(dir, 'private');
    fs.mkdirSync(privateDir, { mode: 0o700 });
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    const { uid, gid } = await createUser(names.user, home);
    const hostKey = path.join(privateDir, 'ssh_host_ed25519_key');
    const privateKeyPath = path.join(privateDir, 'id_ed25519');
    await Promise.all([generateKey(hostKey, `warren-testbed-${name}-host`), generateKey(privateKeyPath, `warren-testbed-${name}-client`)]);
    fs.writeFileSync(path.join(home, '.ssh', 'authorized_keys'), `${publicKeyLine(`${privateKeyPath}.pub`)}\n`, { mode: 0o600 });
    for (const p of [home, path.join(home, '.ssh'), path.join(home, '.ssh', 'authorized_keys')]) fs.chownSync(p, uid, gid);
    fs.chmodSync(home, 0o700);
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(config, sshdConfig({ maxStartups: o.maxStartups ?? '10:30:100' }));
    const logPath = path.join(dir, 'sshd.log');
    let port = 0;
    const spawnSshd = async () => {
      const fd = fs.openSync(logPath, 'a', 0o644);
      try {
        const child = spawn(SSHD, ['-D', '-e', '-f', config, '-o', 'ListenAddress=127.0.0.1', '-o', `Port=${port}`, '-o', `HostKey=${hostKey}`,
          '-o', `PidFile=${path.join(dir, 'sshd.pid')}`], { stdio: ['ignore', fd, fd], detached: true });
        child.unref();
        if (child.pid === undefined) throw new Error('testbed: could not start the jump host\'s sshd');
        pids.sshdPid = child.pid;
        saveOwner();
      } finally {
        fs.closeSync(fd);
      }
      const pid = pids.sshdPid;
      const from = fs.statSync(logPath).size;
      await waitFor(`the jump host's sshd on 127.0.0.1:${port}`, () => {
        const text = fs.readFileSync(logPath, 'utf8').slice(from);
        if (/Server listening on 127\.0\.0\.1 port/.test(text)) return true;
        if (!processAlive(pid)) throw new Error(`sshd exited: ${text.trim().split('\n').slice(-2).join(' | ')}`);
        return undefined;
      }, { timeoutMs: 15_000 });
    };
    // A port picked free can be taken before sshd binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await spawnSshd();
        break;
      } catch (err) {
        if (pids.sshdPid !== undefined) try { process.kill(pids.sshdPid, 'SIGKILL'); } catch { /* gone */ }
        if (attempt >= 3 || !/Address already in use/.test(fs.readFileSync(logPath, 'utf8'))) throw err;
      }
    }
    const hostKeyFingerprint = fingerprintOfPublicKey(publicKeyLine(`${hostKey}.pub`));
    let closed = false;
    return {
      name, host: '127.0.0.1', port, user: names.user, privateKeyPath, hostKeyFingerprint, logPath,
      killSshd: async () => {
        const root = pids.sshdPid!;
        const victims = [root, ...descendants(root)].filter((p) => commOf(p)?.startsWith('sshd'));
        for (const p of victims) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
        await waitFor('every sshd of the jump host to exit', () => victims.every((p) => !processAlive(p)), { timeoutMs: 10_000 });
      },
      startSshd: async () => {
        if (pids.sshdPid !== undefined && processAlive(pids.sshdPid)) throw new Error('testbed: the jump host\'s sshd is running already');
        await spawnSshd();
      },
      connections: async () => {
        const r = await run(['ss', '-Htn', 'state', 'established', `( sport = :${port} )`]);
        return r.stdout.split('\n').filter((l) => l.includes(`127.0.0.1:${port}`)).length;
      },
      logLines: (re) => fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => re.test(l)).length,
      close: async () => {
        if (closed) return;
        closed = true;
        // Per-connection sshds run as root outside the listener's group: teardown would miss them.
        const root = pids.sshdPid;
        if (root !== undefined) for (const p of descendants(root).filter((c) => commOf(c)?.startsWith('sshd'))) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
        teardownSlotSync(names.slot);
      },
    };
  } catch (err) {
    teardownSlotSync(names.slot);
    throw err;
  }
}
