// Remote shell quoting: whatever goes in comes out as exactly one argument, byte for byte.
import t from 'tap';
import { quoteArg, quoteCommand } from '../src/ssh/quote.js';
import { UnquotableArgumentError } from '../src/errors.js';
import { run } from '../container/testbed/index.js';

const nasty = [
  '', ' ', 'plain', "it's", '"double"', '$(touch /tmp/pwned)', '`id`', 'a;b', 'a|b', 'a&&b', '*', '~', '$HOME',
  'new\nline', 'tab\there', '\\', "'", "''", '-n', '--', 'émoji 🚀', '!bang', '#hash', 'x'.repeat(10_000),
];

t.test('sh -c receives each argument exactly as given', async (t) => {
  const script = `for a in "$@"; do printf '%s\\0' "$a"; done`;
  const r = await run(['sh', '-c', `${quoteCommand(['sh', '-c', script, 'argv0', ...nasty])}`]);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.split('\0').slice(0, -1), nasty);
});

t.test('NUL cannot be carried and is refused with a stable code', async (t) => {
  t.throws(() => quoteArg('a\0b'), UnquotableArgumentError);
  t.throws(() => quoteArg('a\0b'), { code: 'WARREN_ERR_UNQUOTABLE' });
});

t.test('simple words stay readable', async (t) => {
  t.equal(quoteCommand(['opencode', 'serve', '--port', '4096']), 'opencode serve --port 4096');
  t.equal(quoteArg('a b'), "'a b'");
});
