// The config loader: a good file loads with every default filled in; every bad one is
// refused with one ConfigError that names the key and the problem on one line, and
// never shows the token.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfigPath, loadConfig, validateConfig, type WarrenConfig } from '../src/config/index.js';
import { seeded } from './helpers/seeded.js';

// Configs are built as loose JSON on purpose: most of them are wrong.
type Json = any;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-config-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.mkdirSync(path.join(dir, 'keys'));
const keyFile = path.join(dir, 'keys', 'alpha');
fs.writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });

const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const TOKEN = 'Zq8-secret-token-value-3f9a7c';

function minimal(): Json {
  return { workspaces: { alpha: { host: '10.0.0.2', user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprint: FP } } };
}

/** Every key set, one workspace per transport, a relative key path. */
function full(): Json {
  return {
    $schema: 'https://example.invalid/warren.schema.json',
    workspaces: {
      alpha: {
        host: '10.0.0.2', port: 2222, user: 'workspace', privateKeyPath: 'keys/alpha', hostKeyFingerprint: FP,
        importFrom: ['/home/workspace/.local/share/other-opencode'],
        transport: { kind: 'tcp' },
        opencode: { port: 4100, command: '/usr/local/bin/opencode', idleTimeoutMs: 120_000, startTimeoutMs: 30_000 },
        keepalive: { intervalMs: 500, timeoutMs: 900 },
      },
      'beta-2.x_y': {
        user: 'dev', privateKeyPath: keyFile, hostKeyFingerprint: FP,
        transport: { kind: 'command', argv: ['docker', 'exec', '-i', 'ctr', '/usr/sbin/sshd', '-i'] },
      },
    },
    gateway: { listen: '127.0.0.1:7391', token: TOKEN, tokenFile: '/run/warren/token' },
    logLevel: 'debug',
  };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function validate(raw: unknown): WarrenConfig {
  return validateConfig(raw, { baseDir: dir, path: null });
}

function mut(f: (c: Json) => void, from: () => Json = minimal): Json {
  const c = from();
  f(c);
  return c;
}

let fileN = 0;
function writeConfig(content: string | Buffer | Json): string {
  const p = path.join(dir, `config-${fileN++}.json`);
  fs.writeFileSync(p, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
  return p;
}

function checkError(t: Test, err: unknown, key: string | null, problem: RegExp): void {
  if (!(err instanceof ConfigError)) {
    t.fail(`expected a ConfigError, got ${String(err)}`);
    return;
  }
  t.equal(err.code, 'WARREN_ERR_CONFIG');
  t.equal(err.exitCode, 2);
  t.equal(err.key, key, `key of: ${err.message}`);
  t.notMatch(err.message, /[\r\n\u2028\u2029]/, 'one line');
  t.ok(err.message.startsWith(key === null ? 'config error: ' : `config error at ${key}: `), err.message);
  t.match(err.message, problem);
  t.notOk(err.message.includes(TOKEN), 'the token is not shown');
}

function refuses(t: Test, raw: unknown, key: string | null, problem: RegExp): void {
  try {
    validate(raw);
    t.fail(`accepted, expected an error at ${key}`);
  } catch (err) {
    checkError(t, err, key, problem);
  }
}

function refusesFile(t: Test, file: string, key: string | null, problem: RegExp): void {
  try {
    loadConfig(file);
    t.fail(`accepted ${file}`);
  } catch (err) {
    checkError(t, err, key, problem);
  }
}

t.test('a full config loads, relative key paths resolve against its directory', async (t) => {
  const file = writeConfig(full());
  const c = loadConfig(file);
  t.equal(c.path, file);
  t.equal(c.logLevel, 'debug');
  t.same(c.gateway, { listen: '127.0.0.1:7391', token: TOKEN, tokenFile: '/run/warren/token', stateDir: null, allowedOrigins: [] });
  t.same([...c.workspaces.keys()], ['alpha', 'beta-2.x_y'], 'file order');
  t.same(c.workspaces.get('alpha'), {
    name: 'alpha', host: '10.0.0.2', port: 2222, user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprints: [FP],
    importFrom: ['/home/workspace/.local/share/other-opencode'],
    transport: { kind: 'tcp' },
    opencode: { port: 4100, command: '/usr/local/bin/opencode', idleTimeoutMs: 120_000, startTimeoutMs: 30_000 },
    keepalive: { intervalMs: 500, timeoutMs: 900 },
  });
  t.same(c.workspaces.get('beta-2.x_y'), {
    name: 'beta-2.x_y', host: '', port: 22, user: 'dev', privateKeyPath: keyFile, hostKeyFingerprints: [FP],
    importFrom: [],
    transport: { kind: 'command', argv: ['docker', 'exec', '-i', 'ctr', '/usr/sbin/sshd', '-i'] },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
    keepalive: { intervalMs: 1000, timeoutMs: 1800 },
  }, 'every default filled in');
});

t.test('a minimal config gets every default', async (t) => {
  const c = validate(mut((c) => { c.workspaces.alpha.privateKeyPath = 'keys/alpha'; }));
  t.equal(c.path, null);
  t.equal(c.logLevel, 'info');
  t.same(c.gateway, { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] });
  const a = c.workspaces.get('alpha')!;
  t.equal(a.privateKeyPath, keyFile, 'resolved against baseDir');
  t.equal(a.port, 22);
  t.same(a.importFrom, []);
  t.same(a.transport, { kind: 'tcp' });
  t.same(a.opencode, { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 });
  t.same(a.keepalive, { intervalMs: 1000, timeoutMs: 1800 });
  // Defaults are copies: changing one loaded config must not change the next.
  a.importFrom.push('/x');
  a.opencode.port = 1;
  const b = validate(minimal()).workspaces.get('alpha')!;
  t.same(b.importFrom, []);
  t.equal(b.opencode.port, 4096);
});

t.test('other accepted forms', async (t) => {
  for (const listen of ['127.0.0.1:1', '127.255.0.9:65535', 'localhost:7391', 'LOCALHOST:80', '[::1]:7391', '/run/warren/gateway.sock']) {
    t.equal(validate(mut((c) => { c.gateway = { listen }; })).gateway.listen, listen, listen);
  }
  const c = validate(mut((c) => { c.gateway = { token: null, tokenFile: null }; }));
  t.same(c.gateway, { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, 'null token means generate one');
  for (const user of ['root', '_svc', 'Work.Space-1', 'a'.repeat(32)]) {
    t.equal(validate(mut((c) => { c.workspaces.alpha.user = user; })).workspaces.get('alpha')!.user, user, user);
  }
  for (const host of ['example.com', '::1', 'fe80::1%eth0', 'h'.repeat(253)]) {
    t.equal(validate(mut((c) => { c.workspaces.alpha.host = host; })).workspaces.get('alpha')!.host, host);
  }
  t.equal(validate(mut((c) => { c.workspaces['x'.repeat(63)] = c.workspaces.alpha; })).workspaces.size, 2, '63-character name');
  const many = validate(mut((c) => { c.workspaces.alpha.importFrom = Array.from({ length: 32 }, (_, i) => `/d/${i}`); }));
  t.equal(many.workspaces.get('alpha')!.importFrom.length, 32);
  t.equal(validate(mut((c) => { c.logLevel = 'silent'; })).logLevel, 'silent');
  t.equal(validate(mut((c) => { c.workspaces.alpha.port = undefined; })).workspaces.get('alpha')!.port, 22, 'undefined means absent');
});

t.test('wrong types at every level', async (t) => {
  refuses(t, [], null, /must be a JSON object \(got an array\)/);
  refuses(t, null, null, /must be a JSON object \(got null\)/);
  refuses(t, 'x', null, /\(got a string\)/);
  refuses(t, { workspaces: [] }, 'workspaces', /must be an object \(got an array\)/);
  refuses(t, mut((c) => { c.workspaces.alpha = 'x'; }), 'workspaces.alpha', /must be an object \(got a string\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.port = '22'; }), 'workspaces.alpha.port', /must be a whole number from 1 to 65535 \(got "22"\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.port = 0; }), 'workspaces.alpha.port', /from 1 to 65535 \(got 0\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.port = 65536; }), 'workspaces.alpha.port', /\(got 65536\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.port = 22.5; }), 'workspaces.alpha.port', /whole number/);
  refuses(t, mut((c) => { c.workspaces.alpha.port = null; }), 'workspaces.alpha.port', /\(got null\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.host = 10; }), 'workspaces.alpha.host', /must be a host name or IP address \(got a number\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.user = ['x']; }), 'workspaces.alpha.user', /must be a user name \(got an array\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.privateKeyPath = {}; }), 'workspaces.alpha.privateKeyPath', /must be a file path \(got an object\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.hostKeyFingerprint = true; }), 'workspaces.alpha.hostKeyFingerprint', /\(got a boolean\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.importFrom = '/x'; }), 'workspaces.alpha.importFrom', /must be an array of .*\(got a string\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.importFrom = ['/ok', 3]; }), 'workspaces.alpha.importFrom[1]', /\(got a number\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = 'tcp'; }), 'workspaces.alpha.transport', /must be an object \(got a string\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 7 }; }), 'workspaces.alpha.transport.kind', /must be "tcp" or "command" or "jump" \(got 7\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'ssh' }; }), 'workspaces.alpha.transport.kind', /\(got "ssh"\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: 'docker exec' }; }), 'workspaces.alpha.transport.argv', /must be an array .*\(got a string\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: [] }; }), 'workspaces.alpha.transport.argv', /at least one/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: ['docker', ''] }; }), 'workspaces.alpha.transport.argv[1]', /must not be empty/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: ['doc\0ker'] }; }), 'workspaces.alpha.transport.argv[0]', /NUL/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: [1] }; }), 'workspaces.alpha.transport.argv[0]', /\(got a number\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = []; }), 'workspaces.alpha.opencode', /must be an object \(got an array\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { port: 70000 }; }), 'workspaces.alpha.opencode.port', /from 1 to 65535 \(got 70000\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { command: '' }; }), 'workspaces.alpha.opencode.command', /must not be empty/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { command: 'open\ncode' }; }), 'workspaces.alpha.opencode.command', /line break/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { idleTimeoutMs: 999 }; }), 'workspaces.alpha.opencode.idleTimeoutMs', /milliseconds from 1000 to 2147483647 \(got 999\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { startTimeoutMs: 2 ** 31 }; }), 'workspaces.alpha.opencode.startTimeoutMs', /at most 2147483647 milliseconds, .*longest timer Node can set \(got 2147483648\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.keepalive = { intervalMs: 99 }; }), 'workspaces.alpha.keepalive.intervalMs', /from 100 to 60000/);
  refuses(t, mut((c) => { c.workspaces.alpha.keepalive = { timeoutMs: 120_001 }; }), 'workspaces.alpha.keepalive.timeoutMs', /from 100 to 120000/);
  refuses(t, mut((c) => { c.workspaces.alpha.keepalive = 5; }), 'workspaces.alpha.keepalive', /must be an object \(got a number\)/);
  refuses(t, mut((c) => { c.gateway = 'x'; }), 'gateway', /must be an object \(got a string\)/);
  refuses(t, mut((c) => { c.gateway = { listen: 7391 }; }), 'gateway.listen', /\(got a number\)/);
  refuses(t, mut((c) => { c.gateway = { tokenFile: 'token.txt' }; }), 'gateway.tokenFile', /absolute/);
  refuses(t, mut((c) => { c.gateway = { tokenFile: 1 }; }), 'gateway.tokenFile', /\(got a number\)/);
  refuses(t, mut((c) => { c.logLevel = 'verbose'; }), 'logLevel', /one of trace, debug, info, warn, error, fatal, silent \(got "verbose"\)/);
  refuses(t, mut((c) => { c.logLevel = 'INFO'; }), 'logLevel', /did you mean "info"\?/);
  refuses(t, mut((c) => { c.logLevel = 3; }), 'logLevel', /\(got 3\)/);
  refuses(t, mut((c) => { c.$schema = 1; }), '$schema', /\(got a number\)/);
});

t.test('missing required keys', async (t) => {
  refuses(t, {}, 'workspaces', /required key is missing/);
  refuses(t, { workspaces: {} }, 'workspaces', /at least one workspace/);
  for (const k of ['host', 'user', 'privateKeyPath', 'hostKeyFingerprint']) {
    refuses(t, mut((c) => { delete c.workspaces.alpha[k]; }), `workspaces.alpha.${k}`, /required key is missing \(.+\)/);
  }
  refuses(t, mut((c) => { c.workspaces.alpha.transport = {}; }), 'workspaces.alpha.transport.kind', /required key is missing/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command' }; }), 'workspaces.alpha.transport.argv', /required key is missing/);
  t.equal(validate(mut((c) => { delete c.workspaces.alpha.host; c.workspaces.alpha.transport = { kind: 'command', argv: ['x'] }; }))
    .workspaces.get('alpha')!.host, '', 'a command transport needs no host');
});

t.test('unknown keys, with and without a suggestion', async (t) => {
  refuses(t, mut((c) => { c.workspace = {}; }), 'workspace', /unknown key; did you mean "workspaces"\?/);
  refuses(t, mut((c) => { c.gatway = {}; }), 'gatway', /did you mean "gateway"\?/);
  refuses(t, mut((c) => { c.loglevel = 'info'; }), 'loglevel', /did you mean "logLevel"\?/);
  refuses(t, mut((c) => { c.frobnicate = 1; }), 'frobnicate', /unknown key \(known keys here: workspaces, jumpHosts, gateway, logLevel, \$schema\)/);
  refuses(t, mut((c) => { c.workspaces.alpha.prot = 22; }), 'workspaces.alpha.prot', /did you mean "port"\?/);
  refuses(t, mut((c) => { c.workspaces.alpha.privatekeypath = 'x'; }), 'workspaces.alpha.privatekeypath', /did you mean "privateKeyPath"\?/);
  refuses(t, mut((c) => { c.workspaces.alpha.hostkeyfingerprint = FP; }), 'workspaces.alpha.hostkeyfingerprint', /did you mean "hostKeyFingerprint"\?/);
  refuses(t, mut((c) => { c.workspaces.alpha.password = 'hunter2'; }), 'workspaces.alpha.password', /unknown key \(known keys here: host, port, /);
  refuses(t, mut((c) => { c.workspaces.alpha.opencode = { idleTimeout: 1000 }; }), 'workspaces.alpha.opencode.idleTimeout', /unknown key; did you mean "idleTimeoutMs"\?/);
  refuses(t, mut((c) => { c.workspaces.alpha.keepalive = { interval: 1000 }; }), 'workspaces.alpha.keepalive.interval', /unknown key/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'tcp', argv: ['x'] }; }), 'workspaces.alpha.transport.argv', /unknown key/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport = { kind: 'command', argv: ['x'], arg: 1 }; }), 'workspaces.alpha.transport.arg', /did you mean "argv"\?/);
  refuses(t, mut((c) => { c.gateway = { tokne: TOKEN }; }), 'gateway.tokne', /did you mean "token"\?/);
  refuses(t, mut((c) => { c.gateway = { 'bad\nkey': 1 }; }), 'gateway["bad\\nkey"]', /unknown key/);
});

t.test('host key fingerprints', async (t) => {
  const at = 'workspaces.alpha.hostKeyFingerprint';
  const fp = (v: string) => mut((c) => { c.workspaces.alpha.hostKeyFingerprint = v; });
  const shape = /as ssh-keygen -lf prints it, e.g\. SHA256:/;
  refuses(t, fp('16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'), at, /MD5 fingerprint.*-E sha256/);
  refuses(t, fp('MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'), at, /MD5 fingerprint/);
  refuses(t, fp('SHA256:uNiVztksCsDhcc0u9e8BujQXVUp'), at, /got 27 characters after "SHA256:"/);
  refuses(t, fp('uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'), at, /prefix is missing/);
  refuses(t, fp('sha256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'), at, /write the prefix as "SHA256:"/);
  refuses(t, fp(`${FP}=`), at, /padding/);
  refuses(t, fp(`256 ${FP} root@host (ED25519)`), at, /only the SHA256:\.\.\. part/);
  refuses(t, fp(''), at, shape);
  refuses(t, fp('SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2!'), at, shape);
});

t.test('private key files', async (t) => {
  const at = 'workspaces.alpha.privateKeyPath';
  const key = (v: string) => mut((c) => { c.workspaces.alpha.privateKeyPath = v; });
  refuses(t, key('/nonexistent/warren/key'), at, /^config error at workspaces\.alpha\.privateKeyPath: cannot read \/nonexistent\/warren\/key: no such file$/);
  refuses(t, key('keys/missing'), at, new RegExp(`cannot read ${escapeRe(dir)}/keys/missing: no such file`));
  refuses(t, key(path.join(dir, 'keys')), at, /is a directory, not a private key file/);
  refuses(t, key(path.join(keyFile, 'sub')), at, /not a directory/);
  refuses(t, key('~/.ssh/id_ed25519'), at, /"~" is not expanded/);
  refuses(t, key(''), at, /must not be empty/);
  refuses(t, key('a\0b'), at, /NUL/);
  refuses(t, key('/dev/null'), at, /is not a regular file/);
  if (process.getuid?.() !== 0) {
    const locked = path.join(dir, 'locked');
    fs.writeFileSync(locked, 'x', { mode: 0o000 });
    refuses(t, key(locked), at, /cannot read .*locked: permission denied/);
  } else {
    t.comment('running as root, where mode 000 does not stop reads: EACCES not tested');
  }
});

t.test('workspace names', async (t) => {
  const named = (name: string) => ({ workspaces: { [name]: minimal().workspaces.alpha } });
  for (const [name, key] of [
    ['a;rm -rf /', 'workspaces["a;rm -rf /"]'],
    ['$(id)', 'workspaces["$(id)"]'],
    ['a`b`', 'workspaces["a`b`"]'],
    ['a b', 'workspaces["a b"]'],
    ['a\nb', 'workspaces["a\\nb"]'],
    ['a\u2028b', 'workspaces["a\\u2028b"]'],
    ['-x', 'workspaces.-x'],
    ['.hidden', 'workspaces[".hidden"]'],
    ['', 'workspaces[""]'],
    ['a/b', 'workspaces["a/b"]'],
    ['é', 'workspaces["é"]'],
    ['x'.repeat(64), `workspaces.${'x'.repeat(64)}`],
  ]) {
    refuses(t, named(name!), key!, /not a valid workspace name: use 1 to 63 letters/);
  }
  const dup = { workspaces: { alpha: minimal().workspaces.alpha, Alpha: minimal().workspaces.alpha } };
  refuses(t, dup, 'workspaces.Alpha', /duplicate workspace name: differs from "alpha" only by case/);
});

t.test('other bad values', async (t) => {
  const ws = (f: (w: Json) => void) => mut((c) => f(c.workspaces.alpha));
  refuses(t, ws((w) => { w.host = ''; }), 'workspaces.alpha.host', /must not be empty/);
  refuses(t, ws((w) => { w.host = 'a b'; }), 'workspaces.alpha.host', /whitespace/);
  refuses(t, ws((w) => { w.host = 'a\tb'; }), 'workspaces.alpha.host', /whitespace/);
  refuses(t, ws((w) => { w.host = 'h'.repeat(254); }), 'workspaces.alpha.host', /at most 253/);
  refuses(t, ws((w) => { w.host = '-oProxyCommand=x'; }), 'workspaces.alpha.host', /must not start with "-"/);
  refuses(t, ws((w) => { w.host = '[::1]'; }), 'workspaces.alpha.host', /without brackets/);
  for (const user of ['', '1abc', 'a b', 'a;b', 'x'.repeat(33), 'ü']) {
    refuses(t, ws((w) => { w.user = user; }), 'workspaces.alpha.user', /not a valid user name/);
  }
  refuses(t, ws((w) => { w.importFrom = ['relative/dir']; }), 'workspaces.alpha.importFrom[0]', /absolute path/);
  refuses(t, ws((w) => { w.importFrom = ['/a\nb']; }), 'workspaces.alpha.importFrom[0]', /line break/);
  refuses(t, ws((w) => { w.importFrom = ['/a\0b']; }), 'workspaces.alpha.importFrom[0]', /NUL/);
  refuses(t, ws((w) => { w.importFrom = Array.from({ length: 33 }, (_, i) => `/d/${i}`); }), 'workspaces.alpha.importFrom', /at most 32 directories \(got 33\)/);
  t.equal(validate(ws((w) => { w.importFrom = ['/not/here/locally']; })).workspaces.get('alpha')!.importFrom[0], '/not/here/locally',
    'importFrom is not checked locally');
});

t.test('the gateway listens on loopback or a unix socket only', async (t) => {
  const listen = (v: string) => mut((c) => { c.gateway = { listen: v }; });
  const loopback = /must be a loopback address or a unix socket path \(the gateway never listens on other interfaces\)/;
  for (const addr of ['0.0.0.0:7391', '192.0.2.1:80', '[::]:1', '10.0.0.1:7391', ':7391', 'example.com:80', '127.0.0.256:80', '127.0.0.01:80', '[::ffff:127.0.0.1]:80']) {
    refuses(t, listen(addr), 'gateway.listen', loopback);
  }
  refuses(t, listen('::1:7391'), 'gateway.listen', /write IPv6 addresses in brackets/);
  refuses(t, listen('7391'), 'gateway.listen', /must be HOST:PORT .* or an absolute unix socket path \(got "7391"\)/);
  refuses(t, listen('gateway.sock'), 'gateway.listen', /must be HOST:PORT/);
  refuses(t, listen('127.0.0.1:0'), 'gateway.listen', /port must be a whole number from 1 to 65535/);
  refuses(t, listen('127.0.0.1:65536'), 'gateway.listen', /port must be/);
  refuses(t, listen('127.0.0.1:'), 'gateway.listen', /must be HOST:PORT/);
  refuses(t, listen('/run/warren/'), 'gateway.listen', /directory/);
  refuses(t, listen(`/${'s'.repeat(107)}`), 'gateway.listen', /at most 107 bytes \(got 108\)/);
});

t.test('the token: the spec\'s short example loads, empty does not, and it is never shown', async (t) => {
  const token = (v: unknown) => mut((c) => { c.gateway = { token: v }; });
  t.equal(validate(token('change-me')).gateway.token, 'change-me', 'the spec example is a valid config');
  refuses(t, token(''), 'gateway.token', /is empty/);
  try {
    validate(token(`${TOKEN} with spaces`));
    t.fail('accepted');
  } catch (err) {
    checkError(t, err, 'gateway.token', /printable ASCII without spaces/);
  }
  refuses(t, token(1234567890123456), 'gateway.token', /must be a string \(got a number\)/);
  t.notOk(String((() => { try { validate(token(1234567890123456)); } catch (e) { return e; } })()).includes('1234567890123456'));
  t.equal(validate(token('x'.repeat(16))).gateway.token, 'x'.repeat(16));
});

t.test('config files', async (t) => {
  refusesFile(t, path.join(dir, 'nope.json'), null, new RegExp(`^config error: cannot read config file ${escapeRe(dir)}/nope\\.json: no such file$`));
  refusesFile(t, dir, null, /cannot read config file .*: it is a directory/);
  refusesFile(t, writeConfig(''), null, /not valid JSON: the file is empty at line 1, column 1/);
  const secretJson = `{\n  "workspaces": {},\n  "gateway": { "token": "${TOKEN}" ,, }\n}\n`;
  const f = writeConfig(secretJson);
  refusesFile(t, f, null, /not valid JSON: expected a key in double quotes at line 3, column 58$/);
  // Comments and one trailing comma are JSONC (test/config-jsonc.test.ts); two commas are not.
  refusesFile(t, writeConfig('{"workspaces": {"a": 1,,}}'), null, /expected a key in double quotes at line 1, column 24/);
  refusesFile(t, writeConfig('{\n  /* never closed\n}'), null, /comment never closed .* at line 2, column 3/);
  refusesFile(t, writeConfig('{"a": 1 "b": 2}'), null, /expected "," or "}" at line 1, column 9/);
  refusesFile(t, writeConfig('{"a" 1}'), null, /expected ":" after the key at line 1, column 6/);
  refusesFile(t, writeConfig('{"a": tru}'), null, /expected a value .* at line 1, column 7/);
  refusesFile(t, writeConfig('{"a": \'x\'}'), null, /strings need double quotes at line 1, column 7/);
  refusesFile(t, writeConfig("{'a': 1}"), null, /keys need double quotes at line 1, column 2/);
  refusesFile(t, writeConfig('{"a": "x\ny"}'), null, /control character in string .* at line 1, column 9/);
  refusesFile(t, writeConfig('{"a": 1} x'), null, /unexpected text after the JSON value at line 1, column 10/);
  refusesFile(t, writeConfig('{"a": [1, 2'), null, /expected "," or "]" at line 1, column 12/);
  refusesFile(t, writeConfig('{"a": "unterminated'), null, /string never closed at line 1, column 7/);
  refusesFile(t, writeConfig('{"a": 01}'), null, /line 1, column 8/);
  refusesFile(t, writeConfig('{"a": "\\x"}'), null, /invalid escape in string at line 1, column 8/);
  refusesFile(t, writeConfig(Buffer.from([0x7b, 0xff, 0x7d])), null, /not valid UTF-8/);
  refusesFile(t, writeConfig('[]'), null, /must be a JSON object \(got an array\)/);
  const twice = `{"workspaces": {"alpha": ${JSON.stringify(minimal().workspaces.alpha)},\n "alpha": {}}}`;
  refusesFile(t, writeConfig(twice), 'workspaces.alpha', /key given twice \(at line 2, column 2\)/);
  refusesFile(t, writeConfig(mut((c) => { c.workspaces.alpha.port = '22'; })), 'workspaces.alpha.port', /\(got "22"\)/);
  // A BOM from a Windows editor is not an error.
  t.equal(loadConfig(writeConfig(`\ufeff${JSON.stringify(minimal())}`)).workspaces.size, 1);
  // Deeper than the parser's stack: still a ConfigError.
  refusesFile(t, writeConfig(`${'['.repeat(200_000)}${']'.repeat(199_999)}`), null, /not valid JSON/);
  try {
    loadConfig(f);
  } catch (err) {
    t.notOk((err as Error).message.includes(TOKEN), 'a broken file\'s contents are not quoted');
    t.equal((err as Error).cause, undefined, 'no cause that a logger would print with the file\'s contents');
  }
  if (process.getuid?.() !== 0) {
    const locked = writeConfig(minimal());
    fs.chmodSync(locked, 0o000);
    refusesFile(t, locked, null, /cannot read config file .*: permission denied/);
  }
});

t.test('defaultConfigPath', async (t) => {
  const saved = process.env.WARREN_CONFIG;
  t.teardown(() => {
    if (saved === undefined) delete process.env.WARREN_CONFIG;
    else process.env.WARREN_CONFIG = saved;
  });
  delete process.env.WARREN_CONFIG;
  t.equal(defaultConfigPath(), '/etc/warren/config.json');
  process.env.WARREN_CONFIG = '/tmp/w.json';
  t.equal(defaultConfigPath(), '/tmp/w.json');
});

// Seeded so a failure reproduces; the seed is in the test name.
t.test('200 random mutations: each loads or is one ConfigError on one line (seed 0x5eed)', async (t) => {
  const { rand, pick } = seeded(0x5eed);
  const values: unknown[] = [null, true, false, 0, -1, 1.5, 1e300, 65536, '', 'x', '22', '\0', 'a\nb', '\u2028', TOKEN, [], [1], ['/x'], {}, { kind: 'tcp' }];
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const requiredPaths = [['workspaces'], ...['alpha', 'beta-2.x_y'].flatMap((w) => ['host', 'user', 'privateKeyPath', 'hostKeyFingerprint'].map((k) => ['workspaces', w, k])),
    ['workspaces', 'beta-2.x_y', 'transport', 'kind'], ['workspaces', 'beta-2.x_y', 'transport', 'argv']];
  const leaves = (v: unknown, at: (string | number)[] = []): (string | number)[][] =>
    v !== null && typeof v === 'object'
      ? Object.entries(v).flatMap(([k, x]) => [...leaves(x, [...at, Array.isArray(v) ? Number(k) : k]), ...(x !== null && typeof x === 'object' ? [[...at, Array.isArray(v) ? Number(k) : k]] : [])])
      : [at];
  const objects = (v: unknown, at: (string | number)[] = []): (string | number)[][] =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? [at, ...Object.entries(v).flatMap(([k, x]) => objects(x, [...at, k]))] : [];
  const parentOf = (c: Json, at: (string | number)[]) => at.slice(0, -1).reduce((o: Json, k) => o?.[k], c);
  const randomKey = () => pick(['x', 'prot', 'Host', 'tokne', '__proto__', 'constructor', 'a b', 'k\n', '\u202e', '', 'workspace', 'é'.repeat(3), 'z'.repeat(100)]);

  let loaded = 0;
  let refused = 0;
  for (let n = 0; n < 200; n++) {
    const c = full();
    const kind = Math.floor(rand() * 3);
    let what: string;
    if (kind === 0) {
      const at = pick(leaves(c).filter((p) => p.length > 0));
      const old = parentOf(c, at)[at.at(-1)!];
      const v = pick(values.filter((x) => typeOf(x) !== typeOf(old)));
      parentOf(c, at)[at.at(-1)!] = structuredClone(v);
      what = `replace ${at.join('.')} with ${typeOf(v)}`;
    } else if (kind === 1) {
      const at = pick(requiredPaths);
      delete parentOf(c, at)[at.at(-1)!];
      what = `delete ${at.join('.')}`;
    } else {
      const at = pick(objects(c));
      const k = randomKey();
      const target = at.length === 0 ? c : at.reduce((o: Json, key) => o[key], c);
      Object.defineProperty(target, k, { value: pick(values), enumerable: true, configurable: true, writable: true });
      what = `add ${JSON.stringify(k)} under ${at.join('.') || '(top)'}`;
    }
    for (const via of ['validate', 'file'] as const) {
      try {
        if (via === 'validate') validate(c);
        else loadConfig(writeConfig(c));
        loaded++;
      } catch (err) {
        refused++;
        if (!(err instanceof ConfigError)) {
          t.fail(`${what} (${via}): threw ${String(err)}`);
          continue;
        }
        if (err.code !== 'WARREN_ERR_CONFIG' || /[\r\n\u2028\u2029]/.test(err.message) || err.message.includes(TOKEN)) {
          t.fail(`${what} (${via}): bad error ${JSON.stringify(err.message)}`);
        }
      }
    }
  }
  t.equal(loaded + refused, 400);
  t.ok(refused > 200, `most mutations are refused (${refused} of 400)`);
  t.comment(`${loaded} loaded, ${refused} refused`);
});

t.test("the spec's example config loads as written (with a real key path)", async (t) => {
  const spec = {
    workspaces: {
      alpha: {
        host: '10.0.0.2', port: 22, user: 'workspace', privateKeyPath: keyFile,
        hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`, importFrom: ['/home/workspace/.local/share/other-opencode'],
      },
    },
    gateway: { listen: '127.0.0.1:7391', token: 'change-me' },
  };
  const c = validate(spec);
  t.match(c.workspaces.get('alpha'), { host: '10.0.0.2', port: 22, user: 'workspace', importFrom: ['/home/workspace/.local/share/other-opencode'] });
  t.match(c.gateway, { listen: '127.0.0.1:7391', token: 'change-me' });
});
