// `npm run bench`: runs the benchmark suite on test-bed workspaces, prints each
// section's details and then one summary table of every goal, each a ratio or
// difference measured side by side in this run, and writes the results into
// docs/benchmarks.md (between its bench:results markers). Options:
//   --rounds N        interleaved rounds per path (default 10; a goal is judged round by round)
//   --duration MS     each load measurement (default 1500)
//   --scale N         workspaces in the scale section (default 100)
//   --only LIST       only these sections (link,liveness,chat,scale); implies --no-write
//   --no-write        do not touch docs/benchmarks.md
//   --soak DURATION   instead of the suite: steady traffic for 30s / 10m / 1h, printing drift
import { parseArgs } from 'node:util';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { benchLink, formatLinkBench, linkRows } from './link.js';
import { benchLiveness, formatLiveness, livenessRows } from './liveness.js';
import { benchChat, chatRows, formatChatBench } from './chat.js';
import { benchScaleIsolated, formatScale, scaleRows } from './scale.js';
import { formatSummary, machine, machineLine, markdownSummary, notMet, withinNoise, writeResults, type Row } from './report.js';
import { parseDuration, runSoak } from './soak.js';

const SECTIONS = ['link', 'liveness', 'chat', 'scale'] as const;
function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    strict: true,
    options: {
      rounds: { type: 'string', default: '10' }, duration: { type: 'string', default: '1500' }, scale: { type: 'string', default: '100' },
      only: { type: 'string' }, 'no-write': { type: 'boolean', default: false }, soak: { type: 'string' },
    },
  }));
} catch (err) {
  usage((err as Error).message.split('\n')[0]!);
}
const num = (k: string, min: number) => {
  const s = String(values[k]);
  if (!/^\d+$/.test(s) || Number(s) < min) usage(`--${k} must be a whole number >= ${min} (got ${JSON.stringify(s)})`);
  return Number(s);
};
const rounds = num('rounds', 1);
const durationMs = num('duration', 100);
const scale = num('scale', 1);
const only = values.only === undefined ? [...SECTIONS] : String(values.only).split(',');
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) usage(`--only takes ${SECTIONS.join(',')} (got ${JSON.stringify(s)})`);
const soakMs = values.soak === undefined ? undefined : parseDuration(String(values.soak));
if (soakMs === null) usage(`--soak takes a duration like 30s, 10m or 1h (got ${JSON.stringify(values.soak)})`);

const m = machine();
process.stdout.write(`warren benchmarks: ${machineLine(m)}\n\n`);
if (soakMs !== undefined) {
  const ok = await runSoak({ durationMs: soakMs!, out: process.stdout });
  process.exit(ok ? 0 : 1);
}

const t0 = performance.now();
const rows: Row[] = [];
const details: string[] = [];
const section = (title: string, body: string) => {
  const text = `${title}\n${body}\n`;
  details.push(text);
  process.stdout.write(`${text}\n`);
};
if (only.includes('link')) {
  const r = await benchLink({ rounds, durationMs, bulkBytes: 128 * 1024 * 1024, sseEvents: 500_000 });
  section('link: small GETs, bulk and SSE through direct / OpenSSH ssh -N -L / warren dispatcher / warren gateway (same undici client)', formatLinkBench(r));
  rows.push(...linkRows(r));
}
if (only.includes('liveness')) {
  const r = await benchLiveness({ rounds: Math.max(5, rounds) });
  section('liveness: a frozen workspace, and sshd killed and restarted', formatLiveness(r));
  rows.push(...livenessRows(r));
}
if (only.includes('chat')) {
  const r = await benchChat({ rounds });
  section('messages: warren vs one `opencode run --session` per message and vs an exec\'d curl per API call; cold start vs opencode\'s own', formatChatBench(r));
  rows.push(...chatRows(r));
}
if (only.includes('scale')) {
  const r = await benchScaleIsolated(scale);
  section('scale: workspaces on one broker (no opencode; links only)', formatScale(r));
  rows.push(...scaleRows(r));
}
const seconds = (performance.now() - t0) / 1000;
const loadEnd = os.loadavg().map((n) => n.toFixed(2)).join(' ');
const missed = notMet(rows);
const noisy = withinNoise(rows);
process.stdout.write(`summary (${seconds.toFixed(0)} s; load average at end ${loadEnd}):\n${formatSummary(rows)}\n`);
process.stdout.write(missed.length ? `\ngoals not met:\n${missed.map((s) => `- ${s}`).join('\n')}\n` : '\nno goal missed in every round\n');
if (noisy.length) process.stdout.write(`\nwithin noise (some rounds meet the goal, some do not):\n${noisy.map((s) => `- ${s}`).join('\n')}\n`);

if (!values['no-write'] && values.only === undefined) {
  const doc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'benchmarks.md');
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  writeResults(doc, [
    `Latest \`npm run bench\`: ${date} UTC, ${seconds.toFixed(0)} s, ${rounds} rounds. Machine: ${machineLine(m, loadEnd)}.`,
    '',
    markdownSummary(rows),
    '',
    missed.length ? `Goals not met, and what limits each (measured in this run):\n\n${missed.map((s) => `- ${s}`).join('\n')}` : 'No goal missed in every round.',
    ...(noisy.length ? ['', `Within noise (some rounds meet the goal, some do not):\n\n${noisy.map((s) => `- ${s}`).join('\n')}`] : []),
    '',
    'The detailed output of that run:',
    '',
    '```',
    details.join('\n').trim(),
    '```',
  ].join('\n'));
  process.stdout.write(`\nwrote the results into ${path.relative(process.cwd(), doc)}\n`);
}
