// The summary every section feeds: one row per goal of issue 6 (or per figure
// without a goal), each measured side by side against its anchor in this run.
import os from 'node:os';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { nativeCryptoAvailable } from '../src/ssh/link.js';

export interface Row {
  what: string;
  /** The measured figure, with its unit. */
  value: string;
  /** What it is compared with, measured in the same run. */
  anchor: string;
  /** value against anchor: a ratio (1.12x) or a difference (+0.04 ms). */
  ratio: string;
  /** Empty when the row has no goal (reported for information). */
  goal: string;
  met: boolean | null;
  /** What limits it, measured in this run: printed for a goal not met. */
  limit?: string;
}

export const x = (n: number): string => `${n.toFixed(2)}x`;
export const ms = (n: number, digits = 0): string => `${n.toFixed(digits)} ms`;
export const signedMs = (n: number, digits = 0): string => `${n >= 0 ? '+' : '-'}${Math.abs(n).toFixed(digits)} ms`;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

export interface Machine { cores: number; cpu: string; memGiB: number; node: string; openssh: string; nativeCrypto: boolean; load: string; kernel: string }

export function machine(): Machine {
  let openssh = '?';
  try {
    openssh = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim().split(',')[0] ?? '?';
  } catch { /* keep ? */ }
  const l = os.loadavg().map((n) => n.toFixed(2)).join(' ');
  return {
    cores: os.cpus().length, cpu: os.cpus()[0]?.model.trim() ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, openssh, nativeCrypto: nativeCryptoAvailable(), load: l, kernel: os.release(),
  };
}

export function machineLine(m: Machine, loadEnd?: string): string {
  return `${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, Linux ${m.kernel}, node ${m.node}, ${m.openssh}, `
    + `ssh2 native crypto ${m.nativeCrypto ? 'loaded' : 'NOT loaded'}; load average at start ${m.load}${loadEnd ? `, at end ${loadEnd}` : ''}`;
}

const verdict = (r: Row) => (r.met === null ? '' : r.met ? 'met' : 'NOT MET');

export function formatSummary(rows: Row[]): string {
  const cols: Array<[string, (r: Row) => string]> = [
    ['row', (r) => r.what], ['measured', (r) => r.value], ['anchor (same run)', (r) => r.anchor],
    ['ratio', (r) => r.ratio], ['goal', (r) => r.goal || '-'], ['', verdict],
  ];
  const widths = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols.map(([h]) => h)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map(([, f]) => f(r))))].join('\n');
}

export function notMet(rows: Row[]): string[] {
  return rows.filter((r) => r.met === false).map((r) => `${r.what}: ${r.ratio} against goal ${r.goal}${r.limit ? `. Limited by: ${r.limit}` : ''}`);
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function markdownSummary(rows: Row[]): string {
  return [
    '| row | measured | anchor (same run) | ratio | goal | |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${[r.what, r.value, r.anchor, r.ratio, r.goal || '–', verdict(r) === 'NOT MET' ? '**not met**' : verdict(r)].map(cell).join(' | ')} |`),
  ].join('\n');
}

export const START_MARK = '<!-- bench:results:start -->';
export const END_MARK = '<!-- bench:results:end -->';

/** Replaces the marked section of the doc with `body`; the hand-written rest stays. */
export function writeResults(docPath: string, body: string): void {
  const doc = fs.readFileSync(docPath, 'utf8');
  const a = doc.indexOf(START_MARK);
  const b = doc.indexOf(END_MARK);
  if (a < 0 || b < a) throw new Error(`${docPath} has no ${START_MARK} ... ${END_MARK} section to replace`);
  fs.writeFileSync(docPath, `${doc.slice(0, a + START_MARK.length)}\n${body.trim()}\n${doc.slice(b)}`);
}
