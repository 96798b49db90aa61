// OpenCode's own clients send HTTP Basic auth (any username, the password), so the
// gateway's pass-through takes the gateway token as that password, compared like the
// bearer token, and its 401 advertises both schemes; the gateway's own routes take the
// bearer token only. (OpenCode's clients through the pass-through are issue 12.)
import t from 'tap';
import { createWorkspace } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';
import { expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'gwbasic' });
t.teardown(() => ws.close());
const d = await startDaemon(t, [ws]);
const passThrough = `${d.base}/v1/workspaces/${ws.name}/opencode`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('the pass-through takes the token as a Basic password, any username; nothing else does', async (t) => {
  const ok = await fetch(`${passThrough}/global/health`, { headers: { authorization: basic('opencode', d.token!) } });
  t.equal(ok.status, 200);
  t.match(await ok.json(), { healthy: true });
  t.equal((await fetch(`${passThrough}/global/health`, { headers: { authorization: basic('anyone', d.token!) } })).status, 200, 'any username');
  const wrong = await fetch(`${passThrough}/global/health`, { headers: { authorization: basic('opencode', `${d.token}x`) } });
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /Bearer realm="warren".*Basic realm="warren"/, 'the 401 advertises both schemes');
  t.equal((await fetch(`${passThrough}/global/health`, { headers: { authorization: basic('opencode', '') } })).status, 401, 'an empty password');
  const browser = await fetch(`${passThrough}/global/health`, { headers: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } });
  t.equal(browser.status, 401);
  t.equal(browser.headers.get('www-authenticate'), 'Bearer realm="warren"', 'a browser is not offered Basic: no login box, nothing remembered');
  t.equal((await fetch(`${passThrough}/global/health`, { headers: { authorization: 'Basic !!!' } })).status, 401, 'garbage');
  const elsewhere = await fetch(`${d.base}/v1/workspaces`, { headers: { authorization: basic('opencode', d.token!) } });
  t.equal(elsewhere.status, 401, 'the gateway\'s own routes take the bearer token only');
  t.equal(elsewhere.headers.get('www-authenticate'), 'Bearer realm="warren"');
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await d.stop();
  await expectNothingLeft(t, ws, 20_000);
});
