// Several host key pins (hostKeyFingerprints, for a key rotation) through the real
// command line against a real sshd: a list holding the host's key connects, wherever
// in the list it is; a list without it is refused, naming every pin and the key the
// host presented.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, run } from '../container/testbed/index.js';

const ws = await createWorkspace({ name: 'pins' });
t.teardown(() => ws.close());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-pins-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const WRONG = `SHA256:${'A'.repeat(43)}`;
const WRONG2 = `SHA256:${'B'.repeat(43)}`;

const sessions = (pins: string[]) => {
  const file = path.join(dir, `config-${pins.length}-${pins.indexOf(ws.hostKeyFingerprint)}.json`);
  // JSONC, as an operator would write it during a rotation.
  fs.writeFileSync(file, `{
  "workspaces": {
    "alpha": {
      "host": "${ws.host}", "port": ${ws.port}, "user": "${ws.user}",
      "privateKeyPath": ${JSON.stringify(ws.privateKeyPath)},
      // old key first, new key second, while the host is re-keyed
      "hostKeyFingerprints": ${JSON.stringify(pins)},
    },
  },
}`);
  return run([process.execPath, 'dist/src/cli/main.js', 'sessions', 'alpha', '--config', file, '--json'], { timeoutMs: 60_000 });
};

t.test('the host key among several pins: connects', async (t) => {
  const r = await sessions([WRONG, ws.hostKeyFingerprint]);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), [], 'a fresh workspace has no sessions');
});

t.test('only wrong pins: refused, naming every pin and the key the host presented', async (t) => {
  const r = await sessions([WRONG, WRONG2]);
  t.equal(r.code, 1, 'a runtime failure');
  t.equal(r.stdout, '');
  t.match(r.stderr, `expected one of ${WRONG}, ${WRONG2}`);
  t.match(r.stderr, `is ${ws.hostKeyFingerprint}`);
  t.match(r.stderr, /add it to hostKeyFingerprints/);
  const log = fs.readFileSync(path.join(ws.dir, 'sshd.log'), 'utf8');
  t.equal(log.match(/Accepted publickey/g)?.length ?? 0, 1, 'only the first test logged in: the key was refused before authentication');
});
