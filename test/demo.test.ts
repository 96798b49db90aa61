// The README's demo command runs to completion and leaves nothing behind.
import t from 'tap';
import path from 'node:path';
import { run } from '../container/testbed/index.js';

t.test('the demo creates a CLI session, shows it and cleans up', async (t) => {
  const demo = path.resolve(import.meta.dirname, '..', 'container', 'demo.js');
  const r = await run([process.execPath, demo], { timeoutMs: 120_000 });
  t.equal(r.code, 0, `demo exits 0 ${r.stderr}`);
  t.match(r.stdout, /reply \(\d+ ms.*\): echo: .*Hello from the warren demo/);
  t.match(r.stdout, /id: +ses_\w+/);
  t.match(r.stdout, /directory: .*\/projects\/demo/);
  t.match(r.stdout, /assistant +echo: /);
  t.match(r.stdout, /starting opencode in alpha…/, 'the cold start is shown');
  t.match(r.stdout, /< echo: Resumed through warren +\(\d+ ms, starting opencode serve included\)/, 'the CLI session resumed through warren');
  t.match(r.stdout, /< echo: And once more, now that the server is warm +\(\d+ ms\)/);
  t.match(r.stdout, /workspace removed: no namespace, process, user or file left behind\./);
});
