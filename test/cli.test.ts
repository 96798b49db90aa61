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

t.test('every command answers -h, --help and `warren help <command>` with usage, options and an example', async (t) => {
  const list = (await warren('--help')).stdout;
  const commands = [...list.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help' && c !== 'version');
  t.ok(commands.includes('check') && commands.includes('chat') && commands.includes('status'), `the list names the commands: ${commands.join(', ')}`);
  for (const cmd of commands) {
    for (const args of [[cmd, '--help'], [cmd, '-h'], ['help', cmd], [cmd, 'some-workspace', '--json', '-h']]) {
      const r = await warren(...args);
      t.equal(r.code, 0, `${args.join(' ')} exits 0`);
      t.equal(r.stderr, '', `${args.join(' ')} writes nothing on stderr`);
      t.match(r.stdout, new RegExp(`^usage: warren ${cmd}[ \n]`), `${args.join(' ')} starts with the usage`);
      t.match(r.stdout, /\noptions:\n(.*\n)* {2}-h, --help +show this help\n/, 'lists the options');
      t.match(r.stdout, new RegExp(`\nexamples?:\n {2}warren ${cmd}`), 'shows an example');
    }
  }
  const none = await warren('help', 'frobnicate');
  t.equal(none.code, 2);
  t.match(none.stderr, /^warren: no help for "frobnicate": the commands are chat, /);
});

t.test('an unknown option names the command\'s own help', async (t) => {
  const r = await warren('status', '--frob');
  t.equal(r.code, 2);
  t.equal(r.stderr, 'warren: unknown option --frob; see warren status --help\n');
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
