// Text from workspaces (session titles, directories, errors, versions) as a terminal
// shows it: one line, nothing that moves the cursor or reorders what follows, and
// measured in the columns it takes on screen (a CJK character takes two, a combining
// mark none, an emoji two), which is what tables align and cut by. East Asian Width,
// emoji and grapheme rules come from string-width: a Unicode table warren does not keep.
import stringWidth from 'string-width';
import { escapeUnsafe } from '../text.js';

/** Line breaks and tabs: a run of them reads as one space. */
// eslint-disable-next-line no-control-regex
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * s on one line, safe to print: line breaks and tabs become a space; every other
 * control, C1 code, bidi override and invisible character a visible \uXXXX escape.
 * Idempotent.
 */
export function sanitize(s: string): string {
  return escapeUnsafe(s.replace(BREAKS, ' '));
}

/** Columns s takes on a terminal (escape codes count none). */
export function displayWidth(s: string): number {
  return stringWidth(s);
}

/** s cut to at most `max` columns, whole characters only, the cut marked with "…". */
export function truncateWidth(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  if (max <= 0) return '';
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const w = displayWidth(segment);
    if (used + w > max - 1) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

/** s padded with spaces to `width` columns. */
export function padWidth(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

/** s in lines of at most `width` columns, broken after a space where there is one. */
export function wrapWidth(s: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  let used = 0;
  let lastSpace = -1;
  for (const { segment } of graphemes.segment(s)) {
    const w = displayWidth(segment);
    if (used + w > width && segment === ' ') {
      // The line ends at this space.
      lines.push(line.trimEnd());
      line = '';
      used = 0;
      lastSpace = -1;
      continue;
    }
    if (used + w > width && line !== '') {
      const cut = lastSpace > 0 ? lastSpace : line.length;
      lines.push(line.slice(0, cut).trimEnd());
      line = line.slice(cut).trimStart();
      used = displayWidth(line);
      const sp = line.lastIndexOf(' ');
      lastSpace = sp >= 0 ? sp + 1 : -1;
    }
    if (segment === ' ') lastSpace = line.length + 1;
    line += segment;
    used += w;
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * The width to fit: the terminal's columns when stdout is one, else $COLUMNS when it
 * is a positive whole number, else 80 (a pipe or a file gets the classic line).
 */
export function terminalWidth(out: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  if (out.isTTY === true && typeof out.columns === 'number' && out.columns > 0) return out.columns;
  const fromEnv = /^\d+$/.test(env.COLUMNS ?? '') ? Number(env.COLUMNS) : 0;
  return fromEnv > 0 ? fromEnv : 80;
}
