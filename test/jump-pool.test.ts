// The broker's jump links are counted: every workspace behind one jump host shares
// one link, the last to let go closes it, and a jump host whose config changed is a
// new link. No sshd is needed: what is counted is the links, not their connections.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JumpPool } from '../src/broker/jump-pool.js';
import type { JumpHostConfig } from '../src/config/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-jump-pool-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const key = path.join(dir, 'key');
fs.writeFileSync(key, 'not a real key\n', { mode: 0o600 });

// Port 1 on loopback: refused at once, so the links only ever try.
const bastion = (o: Partial<JumpHostConfig> = {}): JumpHostConfig => ({
  name: 'bastion', host: '127.0.0.1', port: 1, user: 'jump', privateKeyPath: key,
  hostKeyFingerprints: ['SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'], keepalive: { intervalMs: 1000, timeoutMs: 1800 }, ...o,
});

t.test('one link for every lease of a jump host; the last release closes it', async (t) => {
  const pool = new JumpPool();
  const a = pool.acquire(bastion());
  const b = pool.acquire(bastion());
  t.equal(a.link, b.link, 'the same link');
  t.not(a.link.state, 'stopped', 'started by the first lease');
  t.same(pool.list().map((e) => e.refs), [2]);
  await a.release();
  await a.release();
  t.not(b.link.state, 'stopped', 'still open while a lease is held (a second release of the same lease counts once)');
  await b.release();
  t.equal(b.link.state, 'stopped', 'closed by the last release');
  t.same(pool.list(), []);
  const c = pool.acquire(bastion());
  t.not(c.link, a.link, 'a new lease after that opens a new link');
  await c.release();
});

t.test('a jump host whose config changed is another link', async (t) => {
  const pool = new JumpPool();
  const old = pool.acquire(bastion());
  const changed = pool.acquire(bastion({ port: 2 }));
  t.not(old.link, changed.link);
  t.equal(pool.list().length, 2);
  await Promise.all([old.release(), changed.release()]);
  t.same(pool.list(), []);
});
