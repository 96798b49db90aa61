// `warren check` through the real command line against a real sshd and opencode:
// each step of the path proven or failed in words with what to do, the exit code
// the spec fixes (0 all good, 1 a workspace fails, 2 config errors), and nothing
// started in the workspace.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, run } from '../container/testbed/index.js';
import { expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'check' });
t.teardown(() => ws.close());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-check-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { config: { opencodeVersion: string } };

const base = () => ({ host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint });
const WRONG_PIN = `SHA256:${'A'.repeat(43)}`;

// A second key whose authorized_keys line says `restrict`: sshd lets it log in and
// refuses every forward, as a workspace with forwarding switched off does.
const restricted = path.join(dir, 'restricted');
await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', restricted]);
const keys = path.join(ws.home, '.ssh', 'authorized_keys');
fs.appendFileSync(keys, `restrict ${fs.readFileSync(`${restricted}.pub`, 'utf8')}`);

const config = path.join(dir, 'config.json');
fs.writeFileSync(config, JSON.stringify({
  workspaces: {
    good: { ...base(), importFrom: [ws.home] },
    pin: { ...base(), hostKeyFingerprint: WRONG_PIN },
    rotated: { ...base(), hostKeyFingerprint: undefined, hostKeyFingerprints: [WRONG_PIN, ws.hostKeyFingerprint] },
    refused: { ...base(), port: 1 },
    stranger: { ...base(), user: 'nobody' },
    noforward: { ...base(), privateKeyPath: restricted },
    nocode: { ...base(), opencode: { command: 'no-such-opencode' }, importFrom: ['/no/such/dir'] },
  },
}));

const warren = (args: string[]) => run([process.execPath, 'dist/src/cli/main.js', 'check', '--config', config, ...args], { timeoutMs: 60_000 });

/** The rows printed for one workspace: step → [mark, detail, fix]. */
function rowsOf(stdout: string, name: string): Map<string, { mark: string; detail: string; fix?: string }> {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${name} (`));
  const rows = new Map<string, { mark: string; detail: string; fix?: string }>();
  let last: { mark: string; detail: string; fix?: string } | undefined;
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith(' ')) break;
    const fix = /^ {19}fix: (.*)$/.exec(l);
    if (fix && last) {
      last.fix = fix[1]!;
      continue;
    }
    const m = /^ {2}(ok|FAIL|-) +(reach sshd|host key|key auth|forwarding|opencode|importFrom) +(.*)$/.exec(l);
    if (m) {
      last = { mark: m[1]!, detail: m[3]! };
      rows.set(m[2]!, last);
      continue;
    }
    const skipped = /^ {2}- +(.*): not tried/.exec(l);
    if (skipped) for (const step of skipped[1]!.split(', ')) rows.set(step, { mark: '-', detail: 'not tried' });
  }
  return rows;
}

t.test('a healthy workspace passes every step and exits 0', async (t) => {
  const r = await warren(['good']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^config .*config\.json: ok, 7 workspaces\n/);
  const rows = rowsOf(r.stdout, 'good');
  t.same([...rows.keys()], ['reach sshd', 'host key', 'key auth', 'forwarding', 'opencode', 'importFrom']);
  for (const [step, row] of rows) t.equal(row.mark, 'ok', `${step}: ${row.detail}`);
  t.match(rows.get('host key')!.detail, ws.hostKeyFingerprint);
  t.match(rows.get('opencode')!.detail, new RegExp(`^${pkg.config.opencodeVersion.replace(/\./g, '\\.')} `), 'opencode\'s version as the workspace runs it');
  t.match(r.stdout, /all 1 workspace ok\n$/);
});

t.test('each broken step fails in words, with what to do, and the rest is not tried', async (t) => {
  const r = await warren([]);
  t.equal(r.code, 1, 'a workspace fails: exit 1');
  const expect: Array<[string, string, RegExp, RegExp]> = [
    ['pin', 'host key', new RegExp(`presents ${ws.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}, the config pins ${WRONG_PIN}`), new RegExp(`"hostKeyFingerprint": "${ws.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}"`)],
    ['refused', 'reach sshd', /connection refused/, /start sshd .* or correct host and port/],
    ['stranger', 'key auth', /sshd refused the key .* for user nobody/, /authorized_keys/],
    ['noforward', 'forwarding', /refuses to forward to 127\.0\.0\.1:4096 \(administratively prohibited\)/, /AllowTcpForwarding/],
    ['nocode', 'opencode', /no-such-opencode is not found on .*login PATH/, /opencode\.command/],
    ['nocode', 'importFrom', /\/no\/such\/dir does not exist/, /importFrom/],
  ];
  for (const [name, step, detail, fix] of expect) {
    const row = rowsOf(r.stdout, name).get(step);
    t.equal(row?.mark, 'FAIL', `${name}: ${step} fails`);
    t.match(row?.detail, detail, `${name}: ${step} says what is wrong`);
    t.match(row?.fix, fix, `${name}: ${step} says what to do`);
  }
  // Steps after a failed connect are shown as not tried, never as passed.
  t.same([...rowsOf(r.stdout, 'refused').values()].map((x) => x.mark), ['FAIL', '-', '-', '-', '-', '-']);
  t.same([...rowsOf(r.stdout, 'pin').values()].map((x) => x.mark), ['ok', 'FAIL', '-', '-', '-', '-']);
  t.equal(rowsOf(r.stdout, 'good').get('opencode')?.mark, 'ok', 'the good one still passes beside them');
  const rotated = rowsOf(r.stdout, 'rotated').get('host key');
  t.equal(rotated?.mark, 'ok', 'a host key among several pins passes');
  t.match(rotated?.detail, /one of the 2 pins/);
  t.match(r.stdout, /\n5 of 7 workspaces failed: pin, refused, stranger, noforward, nocode\n$/);
});

t.test('--json carries the same report for scripts', async (t) => {
  const r = await warren(['--json', 'good', 'pin']);
  t.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as { config: { ok: boolean }; workspaces: Array<{ workspace: string; ok: boolean; steps: Array<{ step: string; status: string }> }> };
  t.equal(report.config.ok, true);
  t.same(report.workspaces.map((w) => [w.workspace, w.ok]), [['good', true], ['pin', false]]);
  t.same(report.workspaces[1]!.steps.map((s) => s.status), ['ok', 'fail', 'skipped', 'skipped', 'skipped', 'skipped']);
});

t.test('bad input: an unknown workspace or a broken config exits 2 and tries nothing', async (t) => {
  const unknown = await warren(['nosuch']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /^warren: no workspace "nosuch" in .* \(it has: good, pin, /);
  const broken = path.join(dir, 'broken.json');
  fs.writeFileSync(broken, `{
  // two mistakes, and a comment, which is allowed
  "workspaces": { "a": ${JSON.stringify({ ...base(), port: 'ssh', hostKeyFingerprint: undefined })}, },
  "gateway": { "listen": "0.0.0.0:7391" },
}`);
  const r = await run([process.execPath, 'dist/src/cli/main.js', 'check', '--config', broken], { timeoutMs: 30_000 });
  t.equal(r.code, 2);
  t.match(r.stdout, /^config .*broken\.json: 3 problems\n/, 'every problem at once');
  t.match(r.stdout, /\n {2}workspaces\.a\.hostKeyFingerprint: required key is missing/);
  t.match(r.stdout, /\n {2}workspaces\.a\.port: must be a whole number/);
  t.match(r.stdout, /\n {2}gateway\.listen: must be a loopback address/);
  t.notMatch(r.stdout, /reach sshd/, 'no workspace probed');
});

t.test('check starts nothing in the workspace', async (t) => {
  await expectNothingLeft(t, ws);
});
