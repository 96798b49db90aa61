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
  /** 'noise': some rounds meet the goal and some do not, so this run cannot tell. */
  met: Verdict;
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

export type Verdict = boolean | null | 'noise';

/** A figure over rounds: its median and its range, min to max. */
export interface Spread { median: number; min: number; max: number }

export function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** "0.41 ms (0.38-0.52)": the median, then the range over the rounds. */
export function withRange(s: Spread, fmt: (n: number) => string): string {
  return `${fmt(s.median)} (${fmt(s.min).replace(/ .*$/, '')}-${fmt(s.max)})`;
}

/**
 * A goal judged round by round. Each round measured the figure and its anchor one
 * after the other, so each round gives one comparison (a ratio or a difference)
 * that drift on the machine hits on both sides alike. Every round meets the goal:
 * met; none: not met; some: the spread straddles the goal and the run cannot tell,
 * 'noise'. Fewer than 3 rounds prove nothing either way, and say so as noise too.
 */
export function judge(value: number[], anchor: number[], compare: (v: number, a: number) => number, pass: (c: number) => boolean): { compared: Spread; met: Verdict } {
  const n = Math.min(value.length, anchor.length);
  const cs = Array.from({ length: n }, (_, i) => compare(value[i]!, anchor[i]!));
  const passed = cs.filter(pass).length;
  const met: Verdict = n < 3 ? 'noise' : passed === n ? true : passed === 0 ? false : 'noise';
  return { compared: spread(cs), met };
}

export const ratioOf = (v: number, a: number): number => v / a;
export const differenceOf = (v: number, a: number): number => v - a;

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

const verdict = (r: Row) => (r.met === null ? '' : r.met === 'noise' ? 'within noise' : r.met ? 'met' : 'NOT MET');

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

/** Rows whose rounds straddle their goal: neither met nor missed in this run. */
export function withinNoise(rows: Row[]): string[] {
  return rows.filter((r) => r.met === 'noise').map((r) => `${r.what}: ${r.ratio} against goal ${r.goal}`);
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
