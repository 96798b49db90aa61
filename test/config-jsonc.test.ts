// The config forms operators reach for: comments and trailing commas (JSONC), durations
// as "30s", a pasted known_hosts / ssh-keyscan / .pub line where a fingerprint goes,
// several pins for a key rotation; and checkConfigFile, which tells every problem of a
// file at once where loadConfig tells the first.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkConfigFile, ConfigError, loadConfig, validateConfig } from '../src/config/index.js';

// Loose JSON on purpose: most of the configs below are wrong.
type Json = any;

const root = path.resolve(import.meta.dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-jsonc-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const keyFile = path.join(dir, 'client-key');
fs.writeFileSync(keyFile, 'not a real key\n', { mode: 0o600 });
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const FP2 = `SHA256:${'Q'.repeat(43)}`;
const TOKEN = 'Vb2-a-secret-token-for-jsonc-tests';

let n = 0;
const write = (text: string): string => {
  const file = path.join(dir, `c-${n++}.json`);
  fs.writeFileSync(file, text);
  return file;
};
const workspace = (extra: Json = {}): Json => ({ host: '10.0.0.2', user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprint: FP, ...extra });
const config = (w: Json = {}): Json => ({ workspaces: { alpha: workspace(w) }, gateway: { token: TOKEN } });

function refused(t: Test, raw: Json, key: string, problem: RegExp): void {
  t.throws(() => validateConfig(raw, { baseDir: dir, path: null }), { code: 'WARREN_ERR_CONFIG', key, message: problem }, `${key}: ${problem}`);
}

t.test('comments and trailing commas are accepted, and mean what the same JSON means', async (t) => {
  const jsonc = `// warren's config
{
  /* the build box */
  "workspaces": {
    "alpha": {
      "host": "10.0.0.2", // the VPN address
      "user": "workspace",
      "privateKeyPath": ${JSON.stringify(keyFile)},
      "hostKeyFingerprint": "${FP}",
      "importFrom": ["/a", "/b",],
    },
  },
  "gateway": { "token": "${TOKEN}", /* inline */ },
}
`;
  const plain = loadConfig(write(JSON.stringify({ ...config({ importFrom: ['/a', '/b'] }) })));
  const commented = loadConfig(write(jsonc));
  t.same(commented.workspaces.get('alpha'), plain.workspaces.get('alpha'));
  t.same(commented.gateway, plain.gateway);
  t.equal(loadConfig(write(`\ufeff${jsonc}`)).workspaces.size, 1, 'with a BOM too');
});

t.test('a key given twice is found with its line and column, comments or not', async (t) => {
  const text = `{
  // first
  "workspaces": { "alpha": ${JSON.stringify(workspace())} },
  /* the token, given twice */ "gateway": { "token": "${TOKEN}",
    /* again */ "token": "${TOKEN}" }
}`;
  const err = t.throws(() => loadConfig(write(text))) as ConfigError;
  t.match(err, { code: 'WARREN_ERR_CONFIG', key: 'gateway.token', message: /^config error at gateway\.token: key given twice \(at line 5, column 17\)/ });
  t.notOk(err.message.includes(TOKEN), 'the token is not shown');
  const proto = loadConfig.bind(null, write(`{"workspaces": {"alpha": ${JSON.stringify(workspace())}}, "__proto__": {"x": 1}}`));
  t.throws(proto, { code: 'WARREN_ERR_CONFIG', key: '__proto__', message: /unknown key/ }, 'a "__proto__" key is a key like any other');
  t.throws(() => loadConfig(write('{"workspaces": /* never closed }')), { code: 'WARREN_ERR_CONFIG', key: null, message: /not valid JSON: comment never closed .* at line 1, column 16$/ });
});

t.test('durations: milliseconds as a number, or a string with one unit', async (t) => {
  const load = (opencode: Json, keepalive: Json = {}) => validateConfig(config({ opencode, keepalive }), { baseDir: dir, path: null }).workspaces.get('alpha')!;
  t.same(load({ idleTimeoutMs: '10m', startTimeoutMs: '90s' }, { intervalMs: '500ms', timeoutMs: '2s' }).opencode.idleTimeoutMs, 600_000);
  t.match(load({ idleTimeoutMs: '10m', startTimeoutMs: '90s' }, { intervalMs: '500ms', timeoutMs: '2s' }), {
    opencode: { idleTimeoutMs: 600_000, startTimeoutMs: 90_000 }, keepalive: { intervalMs: 500, timeoutMs: 2000 },
  });
  t.equal(load({ idleTimeoutMs: '2h' }).opencode.idleTimeoutMs, 7_200_000);
  t.equal(load({ idleTimeoutMs: '1d' }).opencode.idleTimeoutMs, 86_400_000);
  t.equal(load({ idleTimeoutMs: 1234 }).opencode.idleTimeoutMs, 1234, 'a number is milliseconds, as before');
  const at = 'workspaces.alpha.opencode.idleTimeoutMs';
  const forms = /must be milliseconds as a number, or a string like "500ms", "30s", "10m", "2h" or "1d" \(got "/;
  for (const bad of ['10 m', '1.5h', '1h30m', '10M', 'ms', '10', '-5s', '10min']) refused(t, config({ opencode: { idleTimeoutMs: bad } }), at, forms);
  refused(t, config({ opencode: { idleTimeoutMs: '1ms' } }), at, /must be from 1000 ms to 2147483647 ms \(got "1ms", 1 ms\)/);
  refused(t, config({ opencode: { idleTimeoutMs: '30d' } }), at, /must be at most 2147483647 ms, about 24\.8 days, the longest timer Node can set \(got "30d"\)/);
  refused(t, config({ keepalive: { intervalMs: '2m' } }), 'workspaces.alpha.keepalive.intervalMs', /must be from 100 ms to 60000 ms \(got "2m", 120000 ms\)/);
  refused(t, config({ opencode: { idleTimeoutMs: true } }), at, /must be a whole number of milliseconds from 1000 to 2147483647 \(got true\)/);
});

t.test('a pasted public key gets its SHA256 fingerprint in the message, as ssh-keygen -lf computes it', async (t) => {
  const keys: Array<[string, string]> = [];
  for (const type of ['ed25519', 'rsa', 'ecdsa']) {
    const file = path.join(dir, `host_${type}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'root@workspace', '-f', file]);
    const pub = fs.readFileSync(`${file}.pub`, 'utf8').trim();
    // Computed independently: OpenSSH's own tool, from the file.
    const fp = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    t.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    keys.push([pub, fp]);
  }
  const at = 'workspaces.alpha.hostKeyFingerprint';
  for (const [pub, fp] of keys) {
    const [type, blob] = pub.split(' ');
    const pasted = {
      'a .pub file': pub,
      'a bare key': `${type} ${blob}`,
      'a known_hosts line': `10.0.0.2 ${type} ${blob}`,
      'a known_hosts line with a port and a marker': `@revoked [10.0.0.2]:2222,alpha ${type} ${blob}`,
      'a hashed known_hosts line': `|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|aGFzaGhhc2hoYXNoaGFzaGhhcw== ${type} ${blob}`,
      'an ssh-keyscan line': `10.0.0.2 ${type} ${blob}\n`,
    };
    for (const [what, s] of Object.entries(pasted)) {
      const err = t.throws(() => validateConfig(config({ hostKeyFingerprint: s }), { baseDir: dir, path: null }), { code: 'WARREN_ERR_CONFIG', key: at }, `${type}: ${what}`) as Error;
      t.ok(err.message.endsWith(`this is a public key (a known_hosts, ssh-keyscan or .pub line), not its fingerprint: write "hostKeyFingerprint": "${fp}"`), err.message);
      t.notMatch(err.message, /[\r\n]/, 'one line');
    }
  }
  const [[pub, fp]] = keys as [[string, string]];
  const { hostKeyFingerprint: _, ...unpinned } = workspace();
  refused(t, { workspaces: { alpha: { ...unpinned, hostKeyFingerprints: [FP, pub] } } }, 'workspaces.alpha.hostKeyFingerprints[1]', new RegExp(`write "${fp.replace(/[+/]/g, '\\$&')}" in the list$`));
  // Text that only looks like a key after a type word is not taken for one.
  refused(t, config({ hostKeyFingerprint: 'ssh-ed25519 AAAAnotakeyatall' }), at, /must be "SHA256:" and 43 base64 characters, as ssh-keygen -lf prints it, e\.g\. SHA256:[^;]*$/);
  refused(t, config({ hostKeyFingerprint: 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48' }), at, /this is an MD5 fingerprint: print the SHA256 one with ssh-keygen -lf -E sha256/);
});

t.test('hostKeyFingerprints: several pins, exactly one of the two keys', async (t) => {
  const { hostKeyFingerprint: _, ...unpinned } = workspace();
  const load = (w: Json) => validateConfig({ workspaces: { alpha: w } }, { baseDir: dir, path: null }).workspaces.get('alpha')!;
  t.same(load(workspace()).hostKeyFingerprints, [FP], 'one pin is a list of one');
  t.notOk('hostKeyFingerprint' in load(workspace()), 'the rest of warren sees one shape');
  t.same(load({ ...unpinned, hostKeyFingerprints: [FP, FP2] }).hostKeyFingerprints, [FP, FP2]);
  const at = 'workspaces.alpha.hostKeyFingerprint';
  refused(t, { workspaces: { alpha: unpinned } }, at, /^config error at workspaces\.alpha\.hostKeyFingerprint: required key is missing \(the pinned SHA256 fingerprint of the workspace sshd host key; or "hostKeyFingerprints", a list of them\)$/);
  refused(t, { workspaces: { alpha: { ...workspace(), hostKeyFingerprints: [FP2] } } }, 'workspaces.alpha.hostKeyFingerprints', /give "hostKeyFingerprint" or "hostKeyFingerprints", not both$/);
  refused(t, { workspaces: { alpha: { ...unpinned, hostKeyFingerprints: [] } } }, 'workspaces.alpha.hostKeyFingerprints', /must list at least one fingerprint/);
  refused(t, { workspaces: { alpha: { ...unpinned, hostKeyFingerprints: FP } } }, 'workspaces.alpha.hostKeyFingerprints', /must be an array of SHA256 fingerprints \(got a string\)/);
  refused(t, { workspaces: { alpha: { ...unpinned, hostKeyFingerprints: [FP, `${FP}=`] } } }, 'workspaces.alpha.hostKeyFingerprints[1]', /remove the trailing "=" padding/);
  refused(t, { workspaces: { alpha: { ...unpinned, hostKeyFingerprints: Array(17).fill(FP) } } }, 'workspaces.alpha.hostKeyFingerprints', /at most 16 fingerprints \(got 17\)/);
});

t.test('checkConfigFile tells every problem at once; loadConfig the first, and how many more', async (t) => {
  const text = `{
  "workspaces": {
    "alpha": ${JSON.stringify(workspace({ port: '22', prot: 1 }))},
    "beta": { "host": "b", "privateKeyPath": "/nonexistent/key", "hostKeyFingerprint": "sha256:x", "user": "u", "user": "v" },
    "gamma": ${JSON.stringify({ ...workspace({ opencode: { idleTimeoutMs: '10 min' } }), hostKeyFingerprints: [FP] })}
  },
  "gateway": { "listen": "0.0.0.0:80", "token": "${TOKEN}" },
  "logLevel": "verbose"
}`;
  const file = write(text);
  const r = checkConfigFile(file);
  t.equal(r.config, null);
  t.equal(r.path, file);
  t.same(r.problems.map((p) => p.key), [
    'workspaces.beta.user',
    'workspaces.alpha.prot',
    'workspaces.alpha.port',
    'workspaces.beta.privateKeyPath',
    'workspaces.beta.hostKeyFingerprint',
    'workspaces.gamma.hostKeyFingerprints',
    'workspaces.gamma.opencode.idleTimeoutMs',
    'gateway.listen',
    'logLevel',
  ], 'duplicates first, then in the order the walk meets them');
  const said = [
    /^key given twice \(at line 4, column 113\)/,
    /^unknown key; did you mean "port"\?$/,
    /^must be a whole number from 1 to 65535 \(got "22"\)$/,
    /^cannot read \/nonexistent\/key: no such file$/,
    /^must be "SHA256:" and 43 base64 characters/,
    /not both/,
    /\(got "10 min"\)$/,
    /must be a loopback address/,
    /must be one of trace, debug, info/,
  ];
  r.problems.forEach((p, i) => t.match(p.message, said[i]!, p.key ?? ''));
  t.notOk(JSON.stringify(r.problems).includes(TOKEN), 'never the token');
  t.throws(() => loadConfig(file), {
    code: 'WARREN_ERR_CONFIG', key: 'workspaces.beta.user',
    message: /^config error at workspaces\.beta\.user: key given twice \(at line 4, column 113\); JSON would keep only the last one \(and 8 more problems; `warren check` lists them all\)$/,
  });
  // A syntax error is one problem: nothing after it can be read.
  const broken = checkConfigFile(write(`{"workspaces": {"alpha": 1,,}, "logLevel": "x"}`));
  t.same(broken.problems.map((p) => p.key), [null]);
  t.match(broken.problems[0]!.message, /is not valid JSON: expected a key in double quotes at line 1, column 28$/);
  t.same(checkConfigFile(path.join(dir, 'missing.json')).problems, [{ key: null, message: `cannot read config file ${path.join(dir, 'missing.json')}: no such file` }]);
  const good = checkConfigFile(write(JSON.stringify(config())));
  t.same(good.problems, []);
  t.equal(good.config?.workspaces.get('alpha')?.host, '10.0.0.2');
  // A command transport with a bad argv needs no host: a failed key is judged as written.
  const cmd = checkConfigFile(write(JSON.stringify({ workspaces: { a: { ...workspace(), host: undefined, transport: { kind: 'command', argv: [] } } } })));
  t.same(cmd.problems.map((p) => p.key), ['workspaces.a.transport.argv']);
});

t.test("docs/config.md's JSONC example loads", async (t) => {
  const docs = fs.readFileSync(path.join(root, 'docs', 'config.md'), 'utf8');
  const blocks = [...docs.matchAll(/```jsonc\n([\s\S]*?)```/g)].map((m) => m[1]!);
  t.ok(blocks.length >= 1, 'there is one');
  for (const b of blocks) {
    const c = loadConfig(write(b.replace(/"privateKeyPath": "[^"]*"/g, `"privateKeyPath": ${JSON.stringify(keyFile)}`)));
    t.match(c.workspaces.get('alpha'), { opencode: { idleTimeoutMs: 3_600_000, startTimeoutMs: 90_000 }, hostKeyFingerprints: [FP] });
  }
});
