// `warren add <name> --docker <container> [--user U] [--key FILE] [--config F] [--docker-bin B]`
// The short path from `docker run` to `warren chat`: it reads what the config entry
// needs from the running container over the local Docker socket (the user, the sshd
// host key's fingerprint), installs a client key (a new one, or --key) as the
// container's authorized key, proves the path end to end as `warren check` does, and
// only then writes the entry (transport: `docker exec -i CTR sshd -i`, no port).
// Bad input is one line and exit 2; a failing check writes nothing and exits 1.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { probeWorkspace } from '../../broker/probe.js';
import { defaultConfigPath } from '../../config/index.js';
import { prepareAdd, workspaceNames } from '../../config/add-entry.js';
import { DockerClient, inspectContainer, isContainerRef } from '../../docker/client.js';
import { authorizeKey, dockerExecArgv, readHostKeyFingerprint, userHome } from '../../docker/workspace-setup.js';
import { ConfigWriteError, DockerContainerError, UsageError } from '../../errors.js';
import { existingKey, keyAt } from '../../ssh/client-key.js';
import { cliLogger } from '../context.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const OPENCODE_PORT = 4096;

const shown = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

export async function addCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      docker: { type: 'string' }, user: { type: 'string' }, key: { type: 'string' }, config: { type: 'string' },
      'docker-bin': { type: 'string' }, 'keys-dir': { type: 'string' },
    },
  });
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0 || values.docker === undefined) throw new UsageError('usage: warren add <name> --docker <container> [--user U] [--key FILE] [--config F]');
  if (!NAME.test(name)) throw new UsageError(`${shown(name)} is not a valid workspace name: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  if (!isContainerRef(values.docker)) throw new UsageError(`${shown(values.docker)} is not a container name or id`);
  if (values.user !== undefined && !USER.test(values.user)) throw new UsageError(`${shown(values.user)} is not a valid user name`);
  if (values.config === '' || values.key === '' || values['docker-bin'] === '' || values['keys-dir'] === '') throw new UsageError('an option was given an empty value');
  const file = path.resolve(values.config ?? defaultConfigPath());
  // The name first: nothing is asked of Docker for an entry that cannot be written.
  const taken = workspaceNames(file).find((n) => n.toLowerCase() === name.toLowerCase());
  if (taken !== undefined) throw new ConfigWriteError(`workspace ${JSON.stringify(taken)} is already in ${file}: choose another name, or remove that entry first`);

  const dockerBin = values['docker-bin'] ?? process.env.WARREN_DOCKER ?? 'docker';
  const docker = new DockerClient(dockerBin);
  const c = await inspectContainer(docker, values.docker);
  if (!c.running) throw new DockerContainerError(`container ${c.name} is not running (${c.status}): start it with docker start ${c.name}`);
  const user = values.user ?? c.env.get('WARREN_WORKSPACE_USER') ?? 'workspace';
  if (!USER.test(user)) throw new DockerContainerError(`container ${c.name} names its workspace user ${shown(user)}, which is not a valid user name: pass --user`);
  const home = await userHome(docker, c, user);
  const fingerprint = await readHostKeyFingerprint(docker, c);

  const key = values.key !== undefined ? existingKey(values.key) : keyAt(path.join(values['keys-dir'] ?? path.join(path.dirname(file), 'keys'), name), `warren@${name}`);
  // Forwards to opencode's port only; exec (to start opencode) still works (docs/image.md).
  const line = `restrict,port-forwarding,permitopen="127.0.0.1:${OPENCODE_PORT}" ${key.publicKey} warren@${name}`;
  const authorized = await authorizeKey(docker, c, user, home, line, key.publicBlob);

  const entry = { user, privateKeyPath: key.privateKeyPath, hostKeyFingerprint: fingerprint, transport: { kind: 'command', argv: dockerExecArgv(dockerBin, c.name) } };
  const prepared = prepareAdd(file, name, entry);
  let committed = false;
  try {
    const probe = await probeWorkspace(prepared.config.workspaces.get(name)!, { logger: cliLogger() });
    const failed = probe.steps.find((s) => s.status === 'fail');
    if (failed) {
      process.stderr.write(`warren: ${name}: ${failed.step} failed: ${failed.detail}${failed.fix ? `; ${failed.fix}` : ''}; ${file} was not changed\n`);
      return 1;
    }
    prepared.commit();
    committed = true;
    const opencode = probe.steps.find((s) => s.step === 'opencode')?.detail ?? '';
    process.stdout.write([
      `${prepared.created ? 'created' : 'updated'} ${file}: workspace ${name}`,
      `  container  ${c.name}, user ${user}, no port (docker exec … sshd -i)`,
      `  host key   ${fingerprint}, read from the container and pinned`,
      `  key        ${key.privateKeyPath} (${key.origin}), ${authorized === 'installed' ? 'now authorized' : 'already authorized'} in the container for forwards to 127.0.0.1:${OPENCODE_PORT}`,
      `  check      ok: logged in, forwarding permitted, opencode ${opencode}`,
      `next: warren chat ${name}${values.config !== undefined ? ` --config ${values.config}` : ''} "hello"`,
      '',
    ].join('\n'));
    return 0;
  } finally {
    if (!committed) prepared.discard();
  }
}
