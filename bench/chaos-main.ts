// `npm run chaos`: the soak (bench/chaos.ts). Prints the seed first, so a failing run
// can be replayed with --seed, then every fault as it happens, then the figures.
// Exits 1 when anything counted as a bug happened (lost, duplicated, hung, leaked,
// unclear error, wrong reply).
//   --messages N    total messages (default 1000)
//   --workspaces N  test-bed workspaces (default 5)
//   --sessions N    sessions per workspace (default 4)
//   --concurrency N messages in flight per workspace (default 2)
//   --seed N        default: random
//   --log FILE      warren's own log (debug level) for the run
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { chaosPassed, formatChaos, runChaos } from './chaos.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' }, workspaces: { type: 'string', default: '5' },
    sessions: { type: 'string', default: '4' }, concurrency: { type: 'string', default: '2' },
    seed: { type: 'string' }, log: { type: 'string' },
  },
});
const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`chaos: --${name} must be a whole number >= ${min}\n`);
    process.exit(2);
  }
  return n;
};
const seed = values.seed !== undefined ? num('seed', values.seed, 0) : Math.floor(Math.random() * 2 ** 31);
const logger = values.log ? pino({ level: 'debug' }, fs.createWriteStream(values.log)) : undefined;
const result = await runChaos({
  seed,
  messages: num('messages', values.messages, 1),
  workspaces: num('workspaces', values.workspaces, 1),
  sessions: num('sessions', values.sessions, 1),
  concurrency: num('concurrency', values.concurrency, 1),
  log: (line) => process.stdout.write(`${line}\n`),
  ...(logger ? { logger } : {}),
});
process.stdout.write(`${formatChaos(result)}\n`);
process.exitCode = chaosPassed(result) ? 0 : 1;
