// The README's demo command runs to completion and leaves nothing behind.
import t from 'tap';
import path from 'node:path';
import { run } from '../container/testbed/index.js';

t.test('the demo: a CLI session resumed through the gateway of the daemon, status, and a clean exit', async (t) => {
  const demo = path.resolve(import.meta.dirname, '..', 'container', 'demo.js');
  const r = await run([process.execPath, demo], { timeoutMs: 180_000 });
  t.equal(r.code, 0, `demo exits 0 ${r.stderr}`);
  t.match(r.stdout, /echo: .*Hello from the warren demo/, 'the CLI made a session');
  t.match(r.stdout, /session ses_\w+ in .*\/projects\/demo/);
  t.match(r.stdout, /gateway on http:\/\/127\.0\.0\.1:\d+/);
  t.match(r.stdout, /< echo: Resumed through warren +\(\d+ ms, starting opencode serve in alpha included\)/, 'resumed through the gateway');
  t.match(r.stdout, /< echo: And once more, now that the server is warm +\(\d+ ms\)/);
  t.match(r.stdout, /WORKSPACE +TUNNEL +RTT +OPENCODE/, 'warren status ran');
  t.match(r.stdout, /^ +alpha +up +\S+ +running 1\.18\.33/m);
  t.match(r.stdout, /^ +beta +up +\S+ +stopped/m);
  t.match(r.stdout, /warren daemon stopped \(exit 0\)/);
  t.match(r.stdout, /workspaces removed: no namespace, process, user or file left behind\./);
});
