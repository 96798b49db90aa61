// gateway.allowedOrigins: the browser origins the gateway does not refuse. Each must be
// an origin as a browser sends it (scheme://host[:port], nothing after), since anything
// else would never match and the operator would be left wondering why; a mistake is one
// ConfigError naming the entry, exit code 2. (The daemon's refusals: gateway-browser.test.ts.)
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, validateConfig } from '../src/config/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-origins-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const keyFile = path.join(dir, 'key');
fs.writeFileSync(keyFile, 'not a real key\n', { mode: 0o600 });
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

const withOrigins = (allowedOrigins: unknown) => ({
  workspaces: { alpha: { host: '10.0.0.2', user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprint: FP } },
  gateway: { allowedOrigins },
});
const load = (v: unknown) => validateConfig(withOrigins(v), { baseDir: dir, path: null }).gateway.allowedOrigins;

function refuses(t: Test, v: unknown, key: string, problem: RegExp): void {
  try {
    load(v);
    t.fail(`accepted ${JSON.stringify(v)}`);
  } catch (err) {
    if (!(err instanceof ConfigError)) return void t.fail(`expected a ConfigError, got ${String(err)}`);
    t.equal(err.code, 'WARREN_ERR_CONFIG');
    t.equal(err.exitCode, 2);
    t.equal(err.key, key, err.message);
    t.notMatch(err.message, /[\r\n\u2028\u2029]/, 'one line');
    t.match(err.message, problem);
  }
}

t.test('absent: none, and a fresh list each time', async (t) => {
  const a = validateConfig({ workspaces: withOrigins(undefined).workspaces }, { baseDir: dir, path: null }).gateway;
  t.same(a.allowedOrigins, []);
  a.allowedOrigins.push('https://x.example');
  t.same(load(undefined), [], 'changing one loaded config does not change the next');
  t.same(load([]), []);
});

t.test('origins load as browsers write them', async (t) => {
  t.same(load(['https://ui.example.com', 'http://localhost:3000', 'http://[::1]:8080', 'https://10.0.0.5:8443']),
    ['https://ui.example.com', 'http://localhost:3000', 'http://[::1]:8080', 'https://10.0.0.5:8443']);
  // Browsers send the scheme and host in lower case and leave out the default port.
  t.same(load(['HTTPS://UI.Example.COM', 'https://ui.example.com:443', 'http://ui.example.com:80']),
    ['https://ui.example.com', 'https://ui.example.com', 'http://ui.example.com']);
  t.same(load(['https://bücher.example']), ['https://xn--bcher-kva.example'], 'a unicode host as its punycode');
  t.equal(load(Array.from({ length: 64 }, (_, i) => `https://u${i}.example`)).length, 64);
});

t.test('anything that is not an http(s) origin is refused, naming the entry', async (t) => {
  const at = (i: number) => `gateway.allowedOrigins[${i}]`;
  refuses(t, 'https://ui.example.com', 'gateway.allowedOrigins', /must be an array of origins, e\.g\. "https:\/\/ui\.example\.com" \(got a string\)/);
  refuses(t, [42], at(0), /must be an origin, e\.g\. .* \(got a number\)/);
  refuses(t, ['https://ok.example', 'https://ui.example.com/'], at(1), /without a path: remove the trailing "\/"/);
  refuses(t, ['https://ui.example.com/app'], at(0), /without a path, query or fragment \(got "https:\/\/ui\.example\.com\/app"\)/);
  refuses(t, ['https://ui.example.com?x=1'], at(0), /without a path, query or fragment/);
  refuses(t, ['https://ui.example.com#top'], at(0), /without a path, query or fragment/);
  refuses(t, ['ui.example.com'], at(0), /must be an origin, scheme:\/\/host\[:port\], e\.g\. "https:\/\/ui\.example\.com" \(got "ui\.example\.com"\)/);
  refuses(t, [''], at(0), /must be an origin/);
  refuses(t, [' https://ui.example.com'], at(0), /must be an origin/);
  refuses(t, ['https://ui.example.com\n'], at(0), /without a path/);
  refuses(t, ['null'], at(0), /cannot be "null": browsers send that for sandboxed frames, file: pages and redirects/);
  refuses(t, ['*'], at(0), /wildcards are not supported: list each origin/);
  refuses(t, ['https://*.example.com'], at(0), /wildcards are not supported/);
  refuses(t, ['file:///etc'], at(0), /must be an origin/);
  refuses(t, ['ftp://files.example'], at(0), /must be an http or https origin \(got "ftp:\/\/files\.example"\)/);
  refuses(t, ['chrome-extension://abcdef'], at(0), /must be an http or https origin/);
  refuses(t, ['https://user:pw@ui.example.com'], at(0), /must not contain a user name or password/);
  refuses(t, ['https://ui.example.com:99999'], at(0), /not a valid origin: the host or port is malformed/);
  refuses(t, ['https://ui.example.com:x'], at(0), /not a valid origin/);
  refuses(t, ['https:\\\\ui.example.com'], at(0), /must be an origin/);
  refuses(t, Array.from({ length: 65 }, (_, i) => `https://u${i}.example`), 'gateway.allowedOrigins', /at most 64 origins \(got 65\)/);
});

t.test('a near miss of the key is suggested', async (t) => {
  try {
    validateConfig({ workspaces: withOrigins(undefined).workspaces, gateway: { allowedOrigin: [] } }, { baseDir: dir, path: null });
    t.fail('accepted');
  } catch (err) {
    t.match(String((err as Error).message), /gateway\.allowedOrigin: unknown key; did you mean "allowedOrigins"\?/);
  }
});
