// Jump hosts in the config: a workspace names one with transport {"kind": "jump",
// "via": NAME}, and the loaded workspace carries that jump host's whole config, so
// a change to the jump host changes its workspaces on reload. A name that is not
// there, a jump host nobody goes through, and every key of a jump host are refused
// with the key's path and what to do.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, checkConfigFile, validateConfig } from '../src/config/index.js';

type Json = any;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-config-jump-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const keyFile = path.join(dir, 'key');
fs.writeFileSync(keyFile, 'not a real key\n', { mode: 0o600 });
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const FP2 = 'SHA256:AAAAztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

function base(): Json {
  return {
    jumpHosts: { bastion: { host: 'bastion.example', user: 'jump', privateKeyPath: 'key', hostKeyFingerprint: FP2 } },
    workspaces: {
      alpha: { host: '10.0.0.2', user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprint: FP, transport: { kind: 'jump', via: 'bastion' } },
      beta: { host: '10.0.0.3', port: 2222, user: 'workspace', privateKeyPath: keyFile, hostKeyFingerprint: FP, transport: { kind: 'jump', via: 'bastion' } },
    },
  };
}

const mut = (f: (c: Json) => void): Json => {
  const c = base();
  f(c);
  return c;
};

function problems(raw: unknown): Array<{ key: string | null; message: string }> {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(raw));
  return checkConfigFile(file).problems;
}

function refuses(t: Test, raw: unknown, key: string, message: RegExp): void {
  const all = problems(raw);
  const p = all.find((x) => x.key === key);
  t.ok(p, `a problem at ${key} (got: ${JSON.stringify(all)})`);
  if (p) t.match(p.message, message);
  t.throws(() => validateConfig(raw, { baseDir: dir, path: null }), ConfigError);
}

t.test('workspaces behind a jump host load with its config, defaults filled in', async (t) => {
  const c = validateConfig(base(), { baseDir: dir, path: null });
  const alpha = c.workspaces.get('alpha')!;
  t.equal(alpha.transport.kind, 'jump');
  if (alpha.transport.kind !== 'jump') return;
  t.equal(alpha.transport.via, 'bastion');
  t.same(alpha.transport.jumpHost, {
    name: 'bastion', host: 'bastion.example', port: 22, user: 'jump', privateKeyPath: keyFile,
    hostKeyFingerprints: [FP2], keepalive: { intervalMs: 1000, timeoutMs: 1800 },
  }, 'relative key path resolved, one pin as a list, keepalive defaults');
  t.equal(alpha.host, '10.0.0.2', 'the workspace\'s own address, as the jump host sees it');
  t.equal(c.jumpHosts?.size, 1);
  const beta = c.workspaces.get('beta')!;
  t.equal(beta.transport.kind === 'jump' && beta.transport.jumpHost, c.jumpHosts?.get('bastion'), 'both share the one jump host');
});

t.test('a config without jump hosts loads an empty map', async (t) => {
  const c = validateConfig({ workspaces: { a: { host: 'h', user: 'u', privateKeyPath: keyFile, hostKeyFingerprint: FP } } }, { baseDir: dir, path: null });
  t.equal(c.jumpHosts?.size, 0);
});

t.test('refusals name the key and say what to do', async (t) => {
  refuses(t, mut((c) => { c.workspaces.alpha.transport.via = 'bastoin'; }), 'workspaces.alpha.transport.via',
    /no jump host "bastoin" under "jumpHosts" \(it has: bastion\); did you mean "bastion"\?/);
  refuses(t, mut((c) => { delete c.jumpHosts; c.workspaces = { alpha: c.workspaces.alpha }; }), 'workspaces.alpha.transport.via',
    /the config has no "jumpHosts"; add "jumpHosts"/);
  refuses(t, mut((c) => { c.jumpHosts.spare = { ...c.jumpHosts.bastion }; }), 'jumpHosts.spare',
    /no workspace goes through this jump host: remove it, or give a workspace "transport": \{"kind": "jump", "via": "spare"\}/);
  refuses(t, mut((c) => { delete c.workspaces.alpha.transport.via; }), 'workspaces.alpha.transport.via', /required key is missing \(the jump host to go through/);
  refuses(t, mut((c) => { c.workspaces.alpha.transport.via = 'a b'; }), 'workspaces.alpha.transport.via', /is not a valid jump host name/);
  refuses(t, mut((c) => { delete c.workspaces.alpha.host; }), 'workspaces.alpha.host', /required key is missing/);
  refuses(t, mut((c) => { delete c.jumpHosts.bastion.host; }), 'jumpHosts.bastion.host', /required key is missing \(the sshd host name or address\)/);
  refuses(t, mut((c) => { delete c.jumpHosts.bastion.hostKeyFingerprint; }), 'jumpHosts.bastion.hostKeyFingerprint', /required key is missing \(the pinned SHA256 fingerprint of the jump host sshd host key/);
  refuses(t, mut((c) => { c.jumpHosts.bastion.hostKeyFingerprints = [FP]; }), 'jumpHosts.bastion.hostKeyFingerprints', /give "hostKeyFingerprint" or "hostKeyFingerprints", not both/);
  refuses(t, mut((c) => { c.jumpHosts.bastion.privateKeyPath = '/nonexistent/key'; }), 'jumpHosts.bastion.privateKeyPath', /cannot read \/nonexistent\/key: no such file/);
  refuses(t, mut((c) => { c.jumpHosts.bastion.importFrom = []; }), 'jumpHosts.bastion.importFrom', /unknown key/);
  refuses(t, mut((c) => { c.jumpHosts.bastion.port = 0; }), 'jumpHosts.bastion.port', /must be a whole number from 1 to 65535/);
  refuses(t, mut((c) => { c.jumpHosts.Bastion = c.jumpHosts.bastion; }), 'jumpHosts.Bastion', /duplicate jump host name: differs from "bastion" only by case/);
  refuses(t, mut((c) => { c.jumpHosts = []; }), 'jumpHosts', /must be an object/);
});

t.test('a jump host with a problem of its own is told once, not again at each via', async (t) => {
  const all = problems(mut((c) => { c.jumpHosts.bastion.port = 'x'; }));
  t.same(all.map((p) => p.key), ['jumpHosts.bastion.port']);
});
