// The errors' own rules, read from the source: every WarrenError is built in
// src/errors.ts and the modules it gathers, src/errors/ (so a code's message and exit
// code live in one place), and every code they define is in docs/design.md's table.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonReplyError } from '../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = path.join(root, 'src');
const errorModules = ['errors.ts', ...fs.readdirSync(path.join(src, 'errors')).map((f) => path.join('errors', f))];
const errorsSource = errorModules.map((f) => fs.readFileSync(path.join(src, f), 'utf8')).join('\n');

t.test('WarrenErrors are made in src/errors.ts and src/errors/ only', async (t) => {
  const files = fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !errorModules.includes(f));
  for (const f of files) {
    const code = fs.readFileSync(path.join(src, f), 'utf8');
    t.notMatch(code, /new WarrenError\(|extends WarrenError\b/, `${f} uses the classes of errors.ts`);
  }
});

t.test('every code is in docs/design.md\'s error table', async (t) => {
  const codes = [...new Set(errorsSource.match(/'WARREN_ERR_[A-Z0-9_]+'/g)!.map((c) => c.slice(1, -1)))];
  t.ok(codes.length >= 50, `${codes.length} codes`);
  const design = fs.readFileSync(path.join(root, 'docs', 'design.md'), 'utf8');
  const rows = design.slice(design.indexOf('\n## Errors')).split('\n').filter((l) => l.startsWith('| `WARREN_ERR_'));
  // A row names a code in full, or after one in full as `_SUFFIX` (`WARREN_ERR_CHAT_FAILED` / `_STALLED`).
  const documented = (code: string) => rows.some((row) => {
    const cell = row.split(' | ')[0]!;
    if (cell.includes(`\`${code}\``)) return true;
    const first = /`(WARREN_ERR_[A-Z0-9_]+)`/.exec(cell)![1]!;
    return [...cell.matchAll(/`(_[A-Z0-9_]+)`/g)].some(([, tail]) => code.endsWith(tail!) && first.startsWith(code.slice(0, -tail!.length)));
  });
  for (const code of codes) t.ok(documented(code), code);
});

t.test('an error the daemon answered keeps its code, and exit 2 for a usage error only', async (t) => {
  t.match(new DaemonReplyError('WARREN_ERR_SESSION_NOT_FOUND', 'session x not found'), { code: 'WARREN_ERR_SESSION_NOT_FOUND', message: 'session x not found', exitCode: 1 });
  t.match(new DaemonReplyError('WARREN_ERR_USAGE', 'bad'), { code: 'WARREN_ERR_USAGE', exitCode: 2 });
});
