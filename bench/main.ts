// `npm run bench`: runs the benchmark suite on test-bed workspaces and prints one
// table of ratios measured side by side in this run. Options:
//   --rounds N        interleaved rounds per path (default 3)
//   --duration MS     each load measurement (default 1500)
import { parseArgs } from 'node:util';
import os from 'node:os';
import { benchLink, formatLinkBench } from './link.js';
import { benchChat, formatChatBench } from './chat.js';
import { benchScale, formatScale } from './scale.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, duration: { type: 'string', default: '1500' }, scale: { type: 'string', default: '100' } } });
const rounds = Number(values.rounds);
const durationMs = Number(values.duration);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(durationMs) || durationMs < 100) {
  process.stderr.write('bench: --rounds must be a whole number >= 1 and --duration a number of ms >= 100\n');
  process.exit(2);
}
process.stdout.write(`warren benchmarks: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n\n`);
process.stdout.write('link: small GETs and bulk through direct / OpenSSH ssh -N -L / warren (same undici client)\n');
process.stdout.write(`${formatLinkBench(await benchLink({ rounds, durationMs, bulkBytes: 128 * 1024 * 1024, sseEvents: 500_000 }))}\n`);
process.stdout.write('\nmessages: warren vs one `opencode run --session` per message; cold start vs opencode\'s own\n');
process.stdout.write(`${formatChatBench(await benchChat({ rounds }))}\n`);
process.stdout.write('\nscale: workspaces on one broker (no opencode; links only)\n');
process.stdout.write(`${formatScale(await benchScale(Number(values.scale)))}\n`);
