// The image itself: what it carries (sshd, the pinned opencode, the workspace user)
// and what it must not (nodejs, npm, the build's CA certificate in any layer: the CA
// is a BuildKit secret, mounted only for the npm step).
import t from 'tap';
import { spawn } from 'node:child_process';
import { opencodeVersion, run } from '../../container/testbed/index.js';
import { DOCKER, docker } from './engine.js';
import { dockerFixture } from './fixture.js';
import { hostCaBodies } from './image.js';

const fx = await dockerFixture(t);

t.test('the image has sshd, the pinned opencode and the workspace user, and no nodejs or npm', async (t) => {
  const r = await run([DOCKER, 'run', '--rm', '--network=none', '--entrypoint', '/bin/sh', fx.image, '-c',
    'opencode --version; id -un workspace; test -x /usr/sbin/sshd && echo sshd; for p in node nodejs npm npx; do command -v $p || echo "no $p"; done; ls /run/secrets 2>&1 | head -1'], { timeoutMs: 120_000 });
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], opencodeVersion(), 'opencode at the pinned version');
  t.same(lines.slice(1, 7), ['workspace', 'sshd', 'no node', 'no nodejs', 'no npm', 'no npx']);
  t.notMatch(lines[7] ?? '', /extra-ca/, 'no secret left in /run/secrets');
  const size = Number((await docker(['image', 'inspect', '--format', '{{.Size}}', fx.image])).stdout.trim());
  t.comment(`image ${fx.image}: ${Math.round(size / 1e6)} MB`);
});

t.test('no layer of the image holds the build\'s CA certificate', { skip: hostCaBodies().length === 0 && 'this host has no extra CA' }, async (t) => {
  const needles = hostCaBodies().map((l) => Buffer.from(l));
  // docker save streams every layer uncompressed: a copied PEM would appear as is.
  const found = await new Promise<boolean>((resolve, reject) => {
    const child = spawn(DOCKER, ['save', fx.image], { stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = Buffer.alloc(0);
    let hit = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('docker save took over 5 minutes')); }, 300_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const window = Buffer.concat([tail, chunk]);
      if (needles.some((n) => window.includes(n))) hit = true;
      tail = window.subarray(Math.max(0, window.length - 128));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`docker save exited ${code}`));
      else resolve(hit);
    });
  });
  t.equal(found, false, `none of ${needles.length} CA certificate(s) found in the saved image`);
});
