#!/usr/bin/env node
// The `warren` command: parses the command word, runs it, and turns any failure
// into one line on stderr and the exit code the spec fixes (0 ok, 1 runtime, 2 usage).
import { UsageError, isWarrenError } from '../errors.js';
import { warrenVersion } from '../version.js';

const HELP = `warren: SSH-tunnel session broker for OpenCode workspaces

usage: warren <command> [options]

commands:
  help             show this help
  version          print warren's version

options:
  -h, --help       show this help
  -v, --version    print warren's version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '-h' || cmd === '--help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd === 'version' || cmd === '-v' || cmd === '--version') {
    process.stdout.write(`${warrenVersion()}\n`);
    return 0;
  }
  if (cmd.startsWith('-')) throw new UsageError(`unknown option ${cmd}; see warren --help`);
  void rest;
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see warren --help`);
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`warren: ${message}\n`);
  process.exitCode = isWarrenError(err) ? err.exitCode : 1;
});
