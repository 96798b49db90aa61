// A bad config through the real command line: `warren daemon`, `warren chat` and
// `warren sessions` each exit 2 with one line naming the key, and start nothing: no
// control socket, no gateway listening, not even a TCP connection to the workspace's
// sshd (its log stays as it was). The loader's own cases are in config.test.ts; this
// is the same promise kept end to end, for each kind of mistake.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, freePort, run } from '../container/testbed/index.js';

const ws = await createWorkspace({ name: 'cfgcli' });
t.teardown(() => ws.close());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-cfgcli-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'Qx7-a-secret-gateway-token-8c1d2e';
const port = await freePort();

// Loose JSON on purpose: most of these configs are wrong.
const good = (): any => ({
  workspaces: { alpha: { host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint } },
  gateway: { listen: `127.0.0.1:${port}`, token: TOKEN },
});
const edit = (f: (c: any) => void): string => {
  const c = good();
  f(c);
  return JSON.stringify(c, null, 2);
};
fs.mkdirSync(path.join(dir, 'a-directory'));
fs.symlinkSync(path.join(dir, 'nothing-here'), path.join(dir, 'dangling'));
const alpha = JSON.stringify(good().workspaces.alpha);

// [what, file text, the key the one line must name, what it must say]
const cases: Array<[string, string, string | null, RegExp]> = [
  ['wrong type', edit((c) => { c.workspaces.alpha.port = '22'; }), 'workspaces.alpha.port', /whole number from 1 to 65535 \(got "22"\)/],
  ['missing key', edit((c) => { delete c.workspaces.alpha.hostKeyFingerprint; }), 'workspaces.alpha.hostKeyFingerprint', /required key is missing/],
  ['unknown key', edit((c) => { c.workspaces.alpha.prot = 22; }), 'workspaces.alpha.prot', /did you mean "port"/],
  ['an accept-any-host-key wish', edit((c) => { c.workspaces.alpha.strictHostKeyChecking = 'no'; }), 'workspaces.alpha.strictHostKeyChecking', /unknown key/],
  ['MD5 fingerprint', edit((c) => { c.workspaces.alpha.hostKeyFingerprint = '16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'; }), 'workspaces.alpha.hostKeyFingerprint', /MD5/],
  ['key file is a directory', edit((c) => { c.workspaces.alpha.privateKeyPath = path.join(dir, 'a-directory'); }), 'workspaces.alpha.privateKeyPath', /is a directory/],
  ['key file a dangling symlink', edit((c) => { c.workspaces.alpha.privateKeyPath = path.join(dir, 'dangling'); }), 'workspaces.alpha.privateKeyPath', /no such file/],
  ['a workspace named twice', `{"workspaces": {"alpha": ${alpha},\n "alpha": ${alpha}}, "gateway": {"token": "${TOKEN}"}}`, 'workspaces.alpha', /key given twice \(at line 2, column 2\)/],
  ['names differing only by case', `{"workspaces": {"alpha": ${alpha}, "Alpha": ${alpha}}}`, 'workspaces.Alpha', /duplicate workspace name/],
  ['a key twice inside a workspace', `{"workspaces": {"alpha": {"host": "${ws.host}", ${alpha.slice(1)}}}`, 'workspaces.alpha.host', /key given twice/],
  ['gateway on all interfaces', edit((c) => { c.gateway.listen = `0.0.0.0:${port}`; }), 'gateway.listen', /must be a loopback address/],
  ['empty token', edit((c) => { c.gateway.token = ''; }), 'gateway.token', /is empty/],
  ['an allowed origin with a path', edit((c) => { c.gateway.allowedOrigins = ['https://ui.example.com/app']; }), 'gateway.allowedOrigins[0]', /must be an origin, scheme:\/\/host\[:port\], without a path/],
  ['the null origin allowed', edit((c) => { c.gateway.allowedOrigins = ['https://ui.example.com', 'null']; }), 'gateway.allowedOrigins[1]', /cannot be "null"/],
  ['broken JSON around the token', `{"workspaces": {}, "gateway": {"token": "${TOKEN}" "x": 1}}`, null, /not valid JSON: expected "," or "}" at line 1, column \d+$/],
  ['two mistakes: the first is told, and that there is another', edit((c) => { c.workspaces.alpha.port = '22'; c.gateway.listen = '0.0.0.0:1'; }),
    'workspaces.alpha.port', /\(got "22"\) \(and 1 more problem; `warren check` lists them all\)$/],
  ['a shell command as the workspace name', `{"workspaces": {"$(touch /tmp/warren-canary-cfg)": ${alpha}}}`, 'workspaces["$(touch /tmp/warren-canary-cfg)"]', /not a valid workspace name/],
];

const warren = (args: string[]) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs: 30_000, env: { ...process.env, WARREN_LOG_LEVEL: 'debug' } });
const listening = (p: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(p, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

t.test('each mistake: exit 2, one line naming the key, nothing started, nothing connected', async (t) => {
  const sshdLog = path.join(ws.dir, 'sshd.log');
  const sshdBefore = fs.readFileSync(sshdLog, 'utf8');
  for (const [i, [what, text, key, problem]] of cases.entries()) {
    const file = path.join(dir, `config-${i}.json`);
    fs.writeFileSync(file, text);
    const socket = path.join(dir, `s-${i}.sock`);
    // chat and sessions load the config the same way: sessions is run for a few only.
    const commands = [['daemon', '--config', file, '--socket', socket], ['chat', 'alpha', '--config', file, 'hello'], ...(i % 5 === 0 ? [['sessions', 'alpha', '--config', file]] : [])];
    const runs = await Promise.all(commands.map((c) => warren(c)));
    for (const [j, r] of runs.entries()) {
      const cmd = commands[j]![0];
      t.equal(r.code, 2, `${what}: warren ${cmd} exits 2`);
      t.equal(r.stdout, '', 'nothing on stdout');
      const lines = r.stderr.split('\n').filter(Boolean);
      t.equal(lines.length, 1, `${what}: one line, even at debug log level: ${r.stderr}`);
      t.ok(lines[0]!.startsWith(key === null ? 'warren: config error: ' : `warren: config error at ${key}: `), `names the key: ${lines[0]}`);
      t.match(lines[0], problem);
      t.notOk(r.stderr.includes(TOKEN), 'never the token');
    }
    t.notOk(fs.existsSync(socket), `${what}: no control socket`);
    t.notOk(await listening(port), `${what}: no gateway`);
  }
  // A warren connection would at least exchange banners, which sshd logs as a login,
  // a failure or a "[preauth]" close. The test bed's own readiness probe (a bare TCP
  // connect) may be logged late, so lines about a connection without a banner are not counted.
  const added = fs.readFileSync(sshdLog, 'utf8').slice(sshdBefore.length);
  t.notMatch(added, /Accepted|preauth|Disconnected|Invalid user|Failed|session opened/i, `the workspace sshd saw no SSH connection: ${added}`);
  t.notOk(fs.existsSync('/tmp/warren-canary-cfg'), 'no command ran');
});

t.test('the same config, fixed, does start (the cases above fail for their reason only)', async (t) => {
  const file = path.join(dir, 'good.json');
  fs.writeFileSync(file, JSON.stringify(good()));
  const sshdBefore = fs.readFileSync(path.join(ws.dir, 'sshd.log'), 'utf8');
  const r = await warren(['sessions', 'alpha', '--config', file, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), [], 'a fresh workspace has no sessions');
  const added = fs.readFileSync(path.join(ws.dir, 'sshd.log'), 'utf8').slice(sshdBefore.length);
  t.match(added, new RegExp(`Accepted publickey for ${ws.user}`), 'and the sshd log shows the connection the check above looks for');
});
