// The browser guard's decision alone, fast and without a workspace: which Host,
// Origin and Sec-Fetch-Site values a gateway refuses, for each way it can listen.
// A real daemon refusing them on every route is gateway-browser.test.ts.
import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { browserRefusal, guardPolicy } from '../src/gateway/browser-guard.js';
import { STATUS_OF } from '../src/gateway/respond.js';

const v4 = guardPolicy({ kind: 'tcp', address: '127.0.0.1', port: 7391 }, ['https://ui.example.com']);
const code = (h: IncomingHttpHeaders, p = v4) => browserRefusal(h, p)?.code ?? 'ok';

t.test('Host: the gateway\'s address or localhost, with the port; nothing else', async (t) => {
  for (const host of ['127.0.0.1:7391', 'localhost:7391', 'LOCALHOST:7391', 'LocalHost:7391']) t.equal(code({ host }), 'ok', host);
  t.equal(code({}), 'ok', 'no Host at all: an HTTP/1.0 client, never a browser');
  for (const host of [
    'evil.example:7391', 'attacker.rebind.example', 'attacker.rebind.example:7391', '127.0.0.1', 'localhost', '127.0.0.1:7392',
    '127.0.0.1:80', 'localhost.:7391', '[::1]:7391', '127.0.0.2:7391', '0.0.0.0:7391', '', ' 127.0.0.1:7391', '127.0.0.1:7391 ',
    'localhost:7391@evil.example', 'evil.example:7391, 127.0.0.1:7391',
  ]) {
    t.equal(code({ host }), 'WARREN_ERR_FORBIDDEN_HOST', JSON.stringify(host));
  }
  const err = browserRefusal({ host: 'evil.example:7391' }, v4)!;
  t.equal(err.message, 'Host "evil.example:7391" is not this gateway\'s address: send Host 127.0.0.1:7391 or localhost:7391 (other names are refused so that no web page can reach the gateway through DNS rebinding)');
  t.equal(STATUS_OF[err.code], 403);
  const long = browserRefusal({ host: `${'a'.repeat(5000)}\u001b[31m` }, v4)!;
  t.ok(long.message.length < 400, 'a long Host is cut in the message');
  t.notMatch(long.message, /[\u0000-\u001f]/, 'and nothing in it reaches a terminal');
});

t.test('Host on port 80 may leave the port out, as browsers do; on [::1], in brackets', async (t) => {
  const p80 = guardPolicy({ kind: 'tcp', address: '127.0.0.1', port: 80 });
  for (const host of ['127.0.0.1', 'localhost', '127.0.0.1:80', 'localhost:80']) t.equal(code({ host }, p80), 'ok', host);
  t.equal(code({ host: 'evil.example' }, p80), 'WARREN_ERR_FORBIDDEN_HOST');
  t.equal(code({ host: 'localhost', origin: 'http://localhost' }, p80), 'ok', 'its own origin has no port either');
  t.equal(code({ host: 'localhost', origin: 'http://localhost:80' }, p80), 'WARREN_ERR_FORBIDDEN_ORIGIN', 'browsers never write the default port');
  const v6 = guardPolicy({ kind: 'tcp', address: '::1', port: 7391 });
  for (const host of ['[::1]:7391', 'localhost:7391']) t.equal(code({ host }, v6), 'ok', host);
  for (const host of ['::1:7391', '127.0.0.1:7391', '[::1]']) t.equal(code({ host }, v6), 'WARREN_ERR_FORBIDDEN_HOST', host);
  t.equal(code({ host: '[::1]:7391', origin: 'http://[::1]:7391', 'sec-fetch-site': 'same-origin' }, v6), 'ok');
  const other = guardPolicy({ kind: 'tcp', address: '127.0.0.5', port: 9000 });
  t.equal(code({ host: '127.0.0.5:9000' }, other), 'ok');
  t.equal(code({ host: '127.0.0.1:9000' }, other), 'WARREN_ERR_FORBIDDEN_HOST', 'another loopback address is not this one');
});

t.test('a unix socket takes any Host, but not a browser\'s cross-site request', async (t) => {
  const unix = guardPolicy({ kind: 'unix' }, ['https://ui.example.com']);
  for (const host of ['localhost', 'warren', 'evil.example:7391', '']) t.equal(code({ host }, unix), 'ok', JSON.stringify(host));
  t.equal(code({ host: 'localhost', origin: 'https://evil.example' }, unix), 'WARREN_ERR_FORBIDDEN_ORIGIN');
  t.equal(code({ host: 'localhost', origin: 'http://localhost' }, unix), 'WARREN_ERR_FORBIDDEN_ORIGIN', 'no origin is its own');
  t.equal(code({ host: 'localhost', 'sec-fetch-site': 'cross-site' }, unix), 'WARREN_ERR_FORBIDDEN_ORIGIN');
  t.equal(code({ host: 'localhost', origin: 'https://ui.example.com' }, unix), 'ok', 'an allowed origin');
});

t.test('Origin: its own or an allowed one; anything else, null included, is refused', async (t) => {
  const host = '127.0.0.1:7391';
  for (const origin of ['http://127.0.0.1:7391', 'http://localhost:7391', 'https://ui.example.com', 'HTTPS://UI.EXAMPLE.COM']) {
    t.equal(code({ host, origin }), 'ok', origin);
  }
  for (const origin of [
    'https://evil.example', 'null', '', 'https://127.0.0.1:7391', 'http://127.0.0.1:7392', 'http://127.0.0.1', 'http://ui.example.com',
    'https://ui.example.com:8443', 'https://ui.example.com/', 'https://ui.example.com.evil.example', 'https://sub.ui.example.com',
    'https://ui.example.com, https://evil.example', 'http://evil.example:7391',
  ]) {
    t.equal(code({ host, origin }), 'WARREN_ERR_FORBIDDEN_ORIGIN', JSON.stringify(origin));
  }
  const err = browserRefusal({ host, origin: 'https://evil.example' }, v4)!;
  t.equal(err.message, 'requests from web pages on other sites are refused (Origin "https://evil.example"): call the gateway from your backend, or add the page\'s origin to gateway.allowedOrigins');
  t.equal(STATUS_OF[err.code], 403);
  t.equal(code({ host, origin: 'https://evil.example' }, guardPolicy({ kind: 'tcp', address: '127.0.0.1', port: 7391 })), 'WARREN_ERR_FORBIDDEN_ORIGIN', 'no allowed origins by default');
  t.equal(code({ host: 'evil.example:7391', origin: 'https://ui.example.com' }), 'WARREN_ERR_FORBIDDEN_HOST', 'an allowed origin does not excuse a foreign Host');
});

t.test('Sec-Fetch-Site: same-origin and none pass; same-site and cross-site only with an allowed Origin', async (t) => {
  const host = '127.0.0.1:7391';
  for (const site of ['same-origin', 'none', 'Same-Origin', 'NONE']) t.equal(code({ host, 'sec-fetch-site': site }), 'ok', site);
  for (const site of ['cross-site', 'same-site', 'CROSS-SITE', '', 'whatever', 'same-origin, cross-site']) {
    t.equal(code({ host, 'sec-fetch-site': site }), 'WARREN_ERR_FORBIDDEN_ORIGIN', JSON.stringify(site));
  }
  t.match(browserRefusal({ host, 'sec-fetch-site': 'cross-site' }, v4)!.message, /\(Sec-Fetch-Site "cross-site"\): call the gateway from your backend/);
  t.equal(code({ host, origin: 'https://ui.example.com', 'sec-fetch-site': 'cross-site' }), 'ok', 'an allowed origin, from its own site');
  t.equal(code({ host, origin: 'http://127.0.0.1:7391', 'sec-fetch-site': 'same-origin' }), 'ok', 'a same-origin POST');
  t.equal(code({ host, origin: 'http://127.0.0.1:7391', 'sec-fetch-site': 'cross-site' }), 'WARREN_ERR_FORBIDDEN_ORIGIN', 'its own Origin, but the browser says cross-site (a redirect on the way)');
  t.equal(code({ host, origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }), 'WARREN_ERR_FORBIDDEN_ORIGIN', 'a foreign Origin whatever Sec-Fetch-Site says');
});

t.test('what curl, the SDK in Node and opencode attach send passes', async (t) => {
  t.equal(code({ host: '127.0.0.1:7391', authorization: 'Bearer x', 'user-agent': 'curl/8.5.0', accept: '*/*' }), 'ok');
  t.equal(code({ host: '127.0.0.1:7391', 'sec-fetch-mode': 'cors', 'user-agent': 'node', 'content-type': 'application/json' }), 'ok', 'Node\'s fetch adds Sec-Fetch-Mode, not Sec-Fetch-Site');
});

t.test('cheap enough to run on every request', async (t) => {
  const h: IncomingHttpHeaders = { host: '127.0.0.1:7391', authorization: 'Bearer x', 'content-type': 'application/json' };
  const n = 200_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (browserRefusal(h, v4) !== null) t.fail('refused');
  const nsEach = Number(process.hrtime.bigint() - started) / n;
  t.comment(`${nsEach.toFixed(0)} ns per check`);
  t.ok(nsEach < 5000, `well under the cost of a request (${nsEach.toFixed(0)} ns)`);
});
