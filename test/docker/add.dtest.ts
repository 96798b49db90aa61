// `warren add <name> --docker <container>`: from `docker run` to `warren chat` in two
// commands, against a container started with no authorized key at all; and its
// refusals, each one line and exit 2 with the config file untouched.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { docker } from './engine.js';
import { dockerFixture, expectNoContainersLeft } from './fixture.js';
import { startContainer } from './container.js';
import { warren } from './warren.js';

const fx = await dockerFixture(t);

t.test('warren add --docker, then warren chat', async (t) => {
  const c = await startContainer(t, fx.image, { authorize: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-add-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'config.json');

  // The operator's Docker client is whichever `docker` is on PATH.
  const add = await warren(['add', 'box', '--docker', c.name, '--config', config]);
  t.equal(add.code, 0, add.stderr);
  t.match(add.stdout, `created ${config}: workspace box`);
  t.match(add.stdout, /check +ok: logged in, forwarding permitted, opencode 1\.\d+\.\d+/);
  const written = JSON.parse(fs.readFileSync(config, 'utf8')) as { workspaces: Record<string, Record<string, unknown>> };
  t.same(written.workspaces.box, {
    user: 'workspace', privateKeyPath: path.join(dir, 'keys', 'box'), hostKeyFingerprint: await c.hostKeyFingerprint(),
    transport: { kind: 'command', argv: ['docker', 'exec', '-i', c.name, '/usr/sbin/sshd', '-i', '-e', '-f', '/etc/ssh/sshd_config', '-o', 'HostKey=/etc/ssh/ssh_host_ed25519_key'] },
  }, 'the entry: docker exec transport, the user, the pinned host key, the new key');
  t.equal(fs.statSync(path.join(dir, 'keys', 'box')).mode & 0o777, 0o600, 'the private key is 0600');
  t.equal(fs.statSync(config).mode & 0o777, 0o600, 'a new config file is 0600');
  const keys = await c.exec(['cat', '/home/workspace/.ssh/authorized_keys']);
  t.match(keys.stdout, /^restrict,port-forwarding,permitopen="127\.0\.0\.1:4096" ssh-ed25519 \S+ warren@box$/m, 'a restricted authorized key');

  let chat = await warren(['chat', 'box', '--config', config, 'hello from two commands']);
  t.equal(chat.code, 0, chat.stderr);
  t.match(chat.stdout, /echo: hello from two commands/);

  await docker(['restart', '-t', '2', c.name], { timeoutMs: 60_000 });
  await c.ready();
  chat = await warren(['chat', 'box', '--config', config, 'after a restart']);
  t.equal(chat.code, 0, chat.stderr);
  t.match(chat.stdout, /echo: after a restart/, 'the added key stays across docker restart');

  await t.test('refusals: one line, exit 2, the config untouched', async (t) => {
    const before = fs.readFileSync(config, 'utf8');
    const refused = async (args: string[], message: RegExp | string) => {
      const r = await warren(['add', ...args, '--config', config], 60_000);
      t.equal(r.code, 2, `exit 2 for ${args.join(' ')}`);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      t.match(r.stderr, message);
      t.equal(fs.readFileSync(config, 'utf8'), before, 'the config is unchanged');
    };
    await refused(['BOX', '--docker', c.name], /workspace "box" is already in .*: choose another name/);
    await refused(['no good', '--docker', c.name], /"no good" is not a valid workspace name/);
    await refused(['other', '--docker', 'no-such-container-here'], /no container "no-such-container-here": check the name with docker ps -a/);
    await refused(['other', '--docker', '--rm'], /^warren: /);
    await refused(['other'], /usage: warren add <name> --docker <container>/);
    await docker(['stop', '-t', '2', c.name], { timeoutMs: 60_000 });
    await refused(['other', '--docker', c.name], new RegExp(`container ${c.name} is not running \\(exited\\): start it with docker start ${c.name}`));
  });
});

expectNoContainersLeft(t);
