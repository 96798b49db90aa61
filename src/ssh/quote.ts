// Quoting for the POSIX shell that sshd runs a remote command with. Every argument
// becomes one single-quoted word, so nothing in it is interpreted: safe by
// construction, whatever the bytes. NUL cannot be carried by any shell word (the
// remote side would truncate there), so it is refused rather than silently cut.

import { UnquotableArgumentError } from '../errors.js';

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new UnquotableArgumentError();
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one command line for `sh -c` on the remote side. */
export function quoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(quoteArg).join(' ');
}
