// The `warren` command line: help, version, and one-line usage errors with exit 2.
import t from 'tap';
import path from 'node:path';
import fs from 'node:fs';
import { run } from '../container/testbed/index.js';

const main = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const repo = path.resolve(import.meta.dirname, '..', '..');
const warren = (...args: string[]) => run([process.execPath, main, ...args], { timeoutMs: 10_000 });

t.test('--help lists the commands and exits 0', async (t) => {
  for (const flag of ['--help', '-h', 'help']) {
    const r = await warren(flag);
    t.equal(r.code, 0, flag);
    t.match(r.stdout, /usage: warren <command>/);
  }
});

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  const r = await warren('--version');
  t.equal(r.code, 0);
  t.equal(r.stdout.trim(), pkg.version);
});

t.test('an unknown command or option is one line on stderr and exit 2', async (t) => {
  for (const args of [['frobnicate'], ['--frob']]) {
    const r = await warren(...args);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.stdout, '');
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.match(r.stderr, /^warren: unknown .* see warren --help\n$/);
  }
});

t.test('the package bin runs through npx', async (t) => {
  // The first `npx warren` in a checkout installs the checkout into npx's cache, and
  // that runs its `prepare` (the build, which deletes dist/) unless scripts are off:
  // in the middle of a test run, the test files starting then were not found.
  const r = await run(['npx', '--no-install', '--ignore-scripts', 'warren', '--version'], { cwd: repo, timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\d+\.\d+\.\d+/);
});
