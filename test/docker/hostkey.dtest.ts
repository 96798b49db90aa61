// The host key pin against real containers: a host key mounted into the container
// keeps its fingerprint across `docker restart` and across re-creating the container,
// so the pin holds; a container re-created with a new key (none mounted) under the
// same name is refused, by warren chat and warren check, with the fingerprint it shows.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { fingerprintOfPublicKey } from '../../container/testbed/index.js';
import { docker } from './engine.js';
import { dockerFixture, expectNoContainersLeft } from './fixture.js';
import { keyPair, startContainer } from './container.js';
import { configFor, warren } from './warren.js';

// ssh2 is CommonJS: its utils come through the default export.
const { utils } = ssh2;

const fx = await dockerFixture(t);

t.test('a mounted host key is pinned across restart and re-creation; a new key is refused with its fingerprint', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-hostkey-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const host = utils.generateKeyPairSync('ed25519', { comment: 'host' });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  fs.writeFileSync(hostKey, host.private, { mode: 0o600 });
  const pin = fingerprintOfPublicKey(host.public);
  const client = keyPair(dir, 'client');
  const name = `warren-t-${process.pid}-pinned`;

  const first = await startContainer(t, fx.image, { hostKey, name, client });
  t.equal(await first.hostKeyFingerprint(), pin, 'the container serves the mounted key');
  const config = await configFor(t, { box: first.entry({ hostKeyFingerprint: pin }) });
  const chat = (text: string) => warren(['chat', 'box', '--config', config, text]);

  let r = await chat('before a restart');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /echo: before a restart/);

  await docker(['restart', '-t', '2', name], { timeoutMs: 60_000 });
  await first.ready();
  r = await chat('after a restart');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /echo: after a restart/, 'the pin holds across docker restart');

  await first.remove();
  const second = await startContainer(t, fx.image, { hostKey, name, client });
  r = await chat('after re-creation');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /echo: after re-creation/, 'and across re-creating the container with the same mounted key');

  await second.remove();
  const third = await startContainer(t, fx.image, { name, client });
  const other = await third.hostKeyFingerprint();
  t.not(other, pin, 'without the mount the container made a key of its own');
  r = await chat('to an impostor');
  t.equal(r.code, 1);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, 'host key of workspace box (workspace@command /usr/bin/docker)');
  t.match(r.stderr, `is ${other}, expected ${pin}: refusing to connect`, 'warren chat refuses, naming the key presented');
  const check = await warren(['check', '--config', config], 120_000);
  t.equal(check.code, 1);
  t.match(check.stdout, `FAIL host key    the host presents ${other}, the config pins ${pin}`, 'warren check shows the fingerprint to verify');
});

expectNoContainersLeft(t);
