// Security controls that need no workspace: the token compare, the token file's
// mode, the absence of any way to accept an unpinned host key, and errors that
// cannot carry a line break or a terminal escape out of a workspace.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { tokenMatches } from '../src/gateway/auth.js';
import { resolveToken } from '../src/broker/token.js';
import { validateConfig } from '../src/config/index.js';
import { Link } from '../src/ssh/link.js';
import { ChatFailedError, ServerHttpError, UnknownWorkspaceError, WarrenError } from '../src/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-secunit-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const keyFile = path.join(dir, 'key');
fs.writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const src = path.resolve(import.meta.dirname, '..', '..', 'src');

t.test('the bearer token: only the exact token passes; both sides are hashed before a constant-time compare', async (t) => {
  const token = 'the-right-token-0123456789';
  const as = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  t.ok(tokenMatches(as(`Bearer ${token}`), token));
  t.ok(tokenMatches(as(`bearer ${token}`), token), 'the scheme is case-insensitive (RFC 7235)');
  for (const h of [undefined, '', 'Bearer', 'Bearer ', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Bearer  ${token}`, `Basic ${token}`, token,
    `Bearer ${token.toUpperCase()}`, `Bearer ${token}\u0000`, `Bearer ${'x'.repeat(100_000)}`]) {
    t.notOk(tokenMatches(as(h), token), `refused: ${JSON.stringify(h?.slice(0, 40))}`);
  }
  // Different lengths must not throw (timingSafeEqual does on unequal lengths): both are digests.
  t.doesNotThrow(() => tokenMatches(as('Bearer a'), 'a-much-longer-token-than-that'));
  const code = fs.readFileSync(path.join(src, 'gateway', 'auth.ts'), 'utf8');
  t.match(code, /createHash\('sha256'\)\.update\(given \?\? ''\)\.digest\(\)/, 'the given token (bearer or Basic password) is hashed');
  t.match(code, /createHash\('sha256'\)\.update\(token\)\.digest\(\)/, 'the expected one too');
  t.match(code, /timingSafeEqual\(a, b\)/, 'and the digests are compared in constant time');
  t.notMatch(code, /(given|want|token|header|decoded)\s*[!=]==|[!=]==\s*(given|want|token|header|decoded)|\.equals\(|localeCompare/, 'no early-exit comparison of the secret');
  const basic = (user: string, pw: string) => as(`Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`);
  t.ok(tokenMatches(basic('any', 'the-right-token-0123456789'), 'the-right-token-0123456789', { basic: true }), 'a Basic password, where allowed');
  t.notOk(tokenMatches(basic('any', 'the-right-token-0123456789'), 'the-right-token-0123456789'), 'but not elsewhere');
  t.notOk(tokenMatches(basic('the-right-token-0123456789', ''), 'the-right-token-0123456789', { basic: true }), 'the username is not the password');
  t.notOk(tokenMatches(as('Basic bm9jb2xvbg=='), 'nocolon', { basic: true }), 'no colon, no password');
});

t.test('the token file: 0600 in a 0700 directory when generated, and chmodded back when loosened', async (t) => {
  const file = path.join(dir, 'state', 'warren', 'token');
  const made = resolveToken({ token: null, tokenFile: file });
  t.ok(made.generated);
  t.ok(made.value.length >= 43, '32 random bytes');
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
  t.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  fs.chmodSync(file, 0o644);
  const again = resolveToken({ token: null, tokenFile: file });
  t.same([again.value, again.generated], [made.value, false], 'the same token is kept');
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'and its mode put back');
});

t.test('host keys: no setting accepts an unpinned or unchecked key, and a link cannot exist without a pin', async (t) => {
  const base = () => ({ workspaces: { a: { host: 'h', user: 'u', privateKeyPath: keyFile, hostKeyFingerprint: FP } } });
  const wishes: Array<[string, unknown]> = [
    ['strictHostKeyChecking', 'no'], ['StrictHostKeyChecking', false], ['acceptAnyHostKey', true], ['insecure', true],
    ['knownHosts', '/dev/null'], ['knownHostsFile', '/dev/null'], ['trustOnFirstUse', true], ['tofu', true], ['hostKey', 'any'],
    ['skipHostKeyCheck', true], ['hostVerifier', 'none'], ['verifyHostKey', false],
  ];
  for (const [k, v] of wishes) {
    t.throws(() => validateConfig({ workspaces: { a: { ...base().workspaces.a, [k]: v } } }, { baseDir: dir, path: null }),
      { code: 'WARREN_ERR_CONFIG', message: new RegExp(`^config error at workspaces\\.a\\.${k}: unknown key`) }, `workspace key ${k}`);
    t.throws(() => validateConfig({ ...base(), [k]: v }, { baseDir: dir, path: null }), { code: 'WARREN_ERR_CONFIG', message: /unknown key/ }, `top-level key ${k}`);
    t.throws(() => validateConfig({ ...base(), gateway: { [k]: v } }, { baseDir: dir, path: null }), { code: 'WARREN_ERR_CONFIG', message: /unknown key/ }, `gateway key ${k}`);
  }
  for (const fp of [null, '', '*', 'any', 'none', 'SHA256:*', 'SHA256:', FP.toLowerCase()]) {
    t.throws(() => validateConfig({ workspaces: { a: { ...base().workspaces.a, hostKeyFingerprint: fp } } }, { baseDir: dir, path: null }),
      { code: 'WARREN_ERR_CONFIG', message: /^config error at workspaces\.a\.hostKeyFingerprint: / }, `fingerprint ${JSON.stringify(fp)}`);
    const { hostKeyFingerprint: _, ...unpinned } = base().workspaces.a;
    t.throws(() => validateConfig({ workspaces: { a: { ...unpinned, hostKeyFingerprints: [FP, fp] } } }, { baseDir: dir, path: null }),
      { code: 'WARREN_ERR_CONFIG', message: /^config error at workspaces\.a\.hostKeyFingerprints\[1\]: / }, `fingerprints [FP, ${JSON.stringify(fp)}]`);
  }
  const { hostKeyFingerprint: _, ...unpinned } = base().workspaces.a;
  for (const fps of [[], null, FP, {}]) {
    t.throws(() => validateConfig({ workspaces: { a: { ...unpinned, hostKeyFingerprints: fps } } }, { baseDir: dir, path: null }),
      { code: 'WARREN_ERR_CONFIG', message: /^config error at workspaces\.a\.hostKeyFingerprints: / }, `fingerprints ${JSON.stringify(fps)}`);
  }
  // The loaded config's every key, so a new one cannot slip in without this list changing.
  const loaded = validateConfig(base(), { baseDir: dir, path: null }).workspaces.get('a')!;
  t.same(Object.keys(loaded).sort(), ['hostKeyFingerprints', 'host', 'importFrom', 'keepalive', 'name', 'opencode', 'port', 'privateKeyPath', 'transport', 'user'].sort());
  // The library's Link, bypassing the config: no pin, no link.
  for (const fp of [undefined, null, FP, [], [''], ['*'], ['SHA256:'], [FP, '*']]) {
    t.throws(() => new Link({ name: 'x', user: 'u', transport: { kind: 'tcp', host: '127.0.0.1', port: 1 }, privateKeyPath: keyFile, hostKeyFingerprints: fp as string[] }),
      { code: 'WARREN_ERR_HOST_KEY_FORMAT', exitCode: 2 }, `Link with ${JSON.stringify(fp)}`);
  }
});

t.test('host keys in the source: one ssh2 client, always with the pinned-key verifier', async (t) => {
  const files = fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const clients = files.filter((f) => /new Client\(/.test(fs.readFileSync(path.join(src, f), 'utf8')));
  t.same(clients, [path.join('ssh', 'connect.ts')], 'ssh2 clients are made in connect.ts only');
  for (const f of files) {
    const code = fs.readFileSync(path.join(src, f), 'utf8');
    t.notMatch(code, /hostVerifier:\s*\(\)\s*=>\s*true|hostVerifier:\s*undefined|StrictHostKeyChecking=no|UserKnownHostsFile=\/dev\/null/, `nothing in ${f} accepts any key`);
  }
  const connect = fs.readFileSync(path.join(src, 'ssh', 'connect.ts'), 'utf8');
  t.equal(connect.match(/client\.connect\(/g)?.length, 1, 'one connect call');
  t.match(connect, /hostVerifier: \(key: Buffer\) => \{\s*const actual = fingerprintOf\(key\);\s*if \(pinned\(actual, o\.hostKeyFingerprints\)\) return true;/,
    'which returns true only for a pinned fingerprint');
  const pins = fs.readFileSync(path.join(src, 'host-key.ts'), 'utf8');
  t.match(pins, /export function pinned\(actual: string, pins: readonly string\[\]\): boolean \{\s*return pins\.some\(\(pin\) => fingerprintsEqual\(actual, pin\)\);/,
    'one of the pins, each compared whole');
  const link = fs.readFileSync(path.join(src, 'ssh', 'link.ts'), 'utf8');
  t.equal(link.match(/connectClient\(/g)?.length, 1, 'links connect in one place');
  t.match(link, /if \(!Array\.isArray\(o\.hostKeyFingerprints\) \|\| o\.hostKeyFingerprints\.length === 0 \|\| !o\.hostKeyFingerprints\.every\(isFingerprint\)\) \{\s*throw [\s\S]*hostKeyFingerprints: \[\.\.\.o\.hostKeyFingerprints\],/,
    'and the fingerprint it pins is the link\'s own, checked first');
});

t.test('errors are one line with nothing a terminal would act on, whatever a workspace sent', async (t) => {
  const hostile = 'PlatformError: NotFound\n    at hw (/$bunfs/root/chunk.js:71:4288)\u001b]0;pwned\u0007\u001b[2J\u202eevil\r\n';
  const errors: WarrenError[] = [
    new ChatFailedError('alpha', 'ses_x', hostile),
    new ServerHttpError('alpha', 'GET /x', 500, hostile),
    new UnknownWorkspaceError(`a\u001b[31mred\u202e\n`),
    new WarrenError('WARREN_ERR_INTERNAL', `raw ${hostile}`),
  ];
  for (const e of errors) {
    t.notMatch(e.message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/, `${e.code}: ${e.message}`);
  }
  t.equal(errors[0]!.message, 'the reply in session ses_x (workspace alpha) failed: PlatformError: NotFound', 'a stack trace is cut to its first line');
  t.match(errors[3]!.message, /\\u001b\]0;pwned\\u0007/, 'the rest is escaped, not dropped: an operator can still see it');
});
