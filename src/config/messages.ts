// The words of config errors, shared by the file reader and the checker: how a key's
// path is written, how a found value is named (its value shown only where it cannot
// be a secret), which known key a typo was meant to be, and how problems are collected
// and turned into the one ConfigError a refused config throws. Everything user-supplied
// that reaches a message goes through quote() or printable(), so the message stays one line.
import { ConfigError } from '../errors.js';
import { escapeUnsafe, UNSAFE } from '../text.js';

export type Seg = string | number;
export type At = readonly Seg[];

/** A JSON string literal of s that is also safe on one line of a terminal or log. */
export function quote(s: string): string {
  return escapeUnsafe(JSON.stringify(s));
}

/** s itself when it is harmless to print, else quoted. */
export function printable(s: string): string {
  return UNSAFE.test(s) ? quote(s) : s;
}

/** The JSON path of a key: workspaces.alpha.importFrom[0], or workspaces["a b"] for names that need quoting. */
export function formatKeyPath(at: At): string {
  let out = '';
  for (const seg of at) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${quote(seg)}]`;
  }
  return out;
}

/** Why a file could not be used, in words, from a Node fs error. */
export function fsReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'no such file (part of the path is not a directory)';
    case 'EISDIR': return 'it is a directory';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'path too long';
    default: return (err as NodeJS.ErrnoException | null)?.code ?? 'unknown error';
  }
}

/** One thing wrong with a config: the key's path (as formatKeyPath writes it; null for the file as a whole) and what is wrong. */
export interface ConfigProblem {
  key: string | null;
  message: string;
}

/** What fail() throws: the walker catches it, notes the problem, and goes on with the next key. */
export class Refusal {
  constructor(readonly problem: ConfigProblem) {}
}

export function problemAt(at: At, message: string): ConfigProblem {
  return { key: at.length === 0 ? null : formatKeyPath(at), message };
}

/** A problem with the key at `at`: ends the check of that key (the walker goes on with the others). */
export function fail(at: At, problem: string): never {
  throw new Refusal(problemAt(at, problem));
}

/** The one error a refused config throws: its first problem, and how many more there are. */
export function configError(problems: readonly ConfigProblem[]): ConfigError {
  const [first, ...more] = problems;
  if (first === undefined) throw new Error('configError: no problems');
  const rest = more.length === 0 ? '' : ` (and ${more.length} more problem${more.length === 1 ? '' : 's'}; \`warren check\` lists them all)`;
  return new ConfigError(first.key, `${first.message}${rest}`);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    case 'object': return 'an object';
    default: return typeof v;
  }
}

/** What was found, with the value only for non-secret scalars. */
export function got(v: unknown, showValue: boolean): string {
  if (!showValue) return typeName(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return quote(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeName(v);
}

/** Optimal string alignment distance, ignoring case: a typo's distance to the key meant. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate `word` was probably meant to be, or null when none is close. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  // Long keys would otherwise drag the matrix to any size a file cares to have.
  if (word.length > 64) return null;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD && d < c.length) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
