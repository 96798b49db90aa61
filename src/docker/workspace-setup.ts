// What `warren add --docker` learns from and does to a running workspace container,
// over the local Docker socket (a path the operator already trusts, unlike the
// network SSH protects): the workspace user and its home, the sshd host key's
// fingerprint to pin, and the client's public key installed as an authorized key.
import { DockerContainerError } from '../errors.js';
import { fingerprintOfPublicKeyLine } from '../host-key.js';
import { firstLine } from '../text.js';
import { DockerClient, type ContainerInfo } from './client.js';

/** Where the image's entrypoint keeps sshd's host key (container/entrypoint.sh). */
export const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';
const SSHD_CONFIG = '/etc/ssh/sshd_config';
/** Keys the entrypoint writes over authorized_keys at every start (container/entrypoint.sh). */
const KEYS_ENV = 'WARREN_AUTHORIZED_KEY';
const KEYS_FILE = '/etc/warren/authorized_keys';

/**
 * warren's transport to the container: sshd run per connection in inetd mode by
 * `docker exec`, so the container needs no port, not even sshd's. The container is
 * named, not its id: a re-created container answers under the same name, and the
 * host key pin decides whether warren trusts it.
 */
export function dockerExecArgv(dockerBin: string, container: string): string[] {
  return [dockerBin, 'exec', '-i', container, '/usr/sbin/sshd', '-i', '-e', '-f', SSHD_CONFIG, '-o', `HostKey=${HOST_KEY}`];
}

export async function readHostKeyFingerprint(docker: DockerClient, c: ContainerInfo): Promise<string> {
  const r = await docker.run(['exec', c.name, 'cat', `${HOST_KEY}.pub`]);
  const fp = r.code === 0 ? fingerprintOfPublicKeyLine(r.stdout) : null;
  if (!fp) {
    throw new DockerContainerError(`container ${c.name} has no sshd host key at ${HOST_KEY}.pub (${firstLine(r.stderr.trim()) || 'no key in it'}): is it running warren's workspace image (container/Dockerfile)?`);
  }
  return fp;
}

/** The user's home directory in the container; the user must exist there. */
export async function userHome(docker: DockerClient, c: ContainerInfo, user: string): Promise<string> {
  const r = await docker.run(['exec', c.name, 'getent', 'passwd', '--', user]);
  const home = r.code === 0 ? r.stdout.trim().split(':')[5] : undefined;
  if (!home) throw new DockerContainerError(`container ${c.name} has no user ${user}: pass --user with the workspace user of its image`);
  return home;
}

// Run as root in the container with the key line on stdin and the user as $1: the key
// is appended once, the file made the user's, 0600, as sshd's StrictModes wants it.
const AUTHORIZE_SCRIPT = `set -eu
home=$(getent passwd "$1" | cut -d: -f6)
install -d -m 0700 -o "$1" -g "$(id -gn "$1")" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
line=$(cat)
touch "$keys"
grep -qxF -- "$line" "$keys" || printf '%s\\n' "$line" >> "$keys"
chown "$1" "$keys"
chmod 0600 "$keys"`;

export type Authorized = 'installed' | 'already';

/**
 * Installs `line` (an authorized_keys line) for `user`. A container whose entrypoint
 * rewrites authorized_keys at each start from WARREN_AUTHORIZED_KEY or a mounted file
 * would lose an added key at its next restart: then the key must be that one already.
 */
export async function authorizeKey(docker: DockerClient, c: ContainerInfo, user: string, home: string, line: string, publicBlob: string): Promise<Authorized> {
  const fixed = c.env.get(KEYS_ENV) ? `the ${KEYS_ENV} environment variable` : c.mountPoints.includes(KEYS_FILE) ? `the mounted ${KEYS_FILE}` : null;
  const current = await docker.run(['exec', c.name, 'cat', '--', `${home}/.ssh/authorized_keys`]);
  const present = current.code === 0 && current.stdout.split('\n').some((l) => l.split(/\s+/).includes(publicBlob));
  if (present) return 'already';
  if (fixed) {
    throw new DockerContainerError(`container ${c.name} takes its authorized key from ${fixed}, which replaces any added key at its next start: pass --key with the private key it authorizes, or start the container without it`);
  }
  await docker.ok(['exec', '-i', '-u', 'root', c.name, 'sh', '-c', AUTHORIZE_SCRIPT, 'warren-add', user], `installing the authorized key in container ${c.name}`, `${line}\n`);
  return 'installed';
}
