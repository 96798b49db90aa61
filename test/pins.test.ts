// One opencode version everywhere: the test bed's pin and the image's must agree.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { opencodeVersion } from '../container/testbed/index.js';

t.test('the Dockerfile pins the same opencode as the test bed', async (t) => {
  const dockerfile = fs.readFileSync(path.resolve(import.meta.dirname, '..', '..', 'container', 'Dockerfile'), 'utf8');
  const m = /^ARG OPENCODE_VERSION=(\S+)$/m.exec(dockerfile);
  t.ok(m, 'the Dockerfile has ARG OPENCODE_VERSION');
  t.equal(m?.[1], opencodeVersion());
  t.match(opencodeVersion(), /^\d+\.\d+\.\d+$/, 'an exact version, not a range');
});
