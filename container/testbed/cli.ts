#!/usr/bin/env node
// Manual control of the test bed: `up [N]` leaves N workspaces running and prints
// what a client needs (JSON), `down` removes them all, `sweep` removes what
// crashed runs left behind.
import { createWorkspaces } from './index.js';
import { sweepStale } from './teardown.js';
import { opencodeBinary } from './opencode-bin.js';

const [cmd, arg] = process.argv.slice(2);
const usage = 'usage: testbed up [N] | down | sweep | install-opencode';

async function main(): Promise<number> {
  switch (cmd) {
    case 'up': {
      const n = arg === undefined ? 1 : Number(arg);
      if (!Number.isInteger(n) || n < 1 || n > 1000) {
        process.stderr.write(`testbed: N must be a whole number from 1 to 1000\n${usage}\n`);
        return 2;
      }
      const wss = await createWorkspaces(n, { persistent: true });
      process.stdout.write(`${JSON.stringify(wss.map((w) => ({
        name: w.name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath,
        hostKeyFingerprint: w.hostKeyFingerprint, isolated: w.isolated,
      })), null, 2)}\n`);
      return 0;
    }
    case 'down': {
      const swept = sweepStale({ includePersistent: true });
      process.stderr.write(`testbed: removed ${swept.length} workspace(s)\n`);
      return 0;
    }
    case 'sweep': {
      const swept = sweepStale();
      if (swept.length) process.stderr.write(`testbed: swept ${swept.length} leftover workspace(s) of crashed runs\n`);
      return 0;
    }
    case 'install-opencode': {
      process.stdout.write(`${await opencodeBinary()}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`testbed: ${err.message}\n`);
  process.exitCode = 1;
});
