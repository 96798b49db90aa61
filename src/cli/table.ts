// Plain aligned columns for terminals; the last column is not padded. Every cell is
// sanitised (one line, no control codes) and measured in display columns, so a title
// with a line break or CJK characters keeps its row and its alignment.
// `style` (optional) decorates a cell after its width is measured, so colour codes
// never count towards alignment; row 0 is the header.
import { displayWidth, sanitize, truncateWidth } from './text-width.js';

export function formatTable(header: string[], rows: string[][], style?: (cell: string, row: number, col: number) => string): string {
  const all = [header, ...rows].map((r) => r.map(sanitize));
  const widths = columnWidths(all);
  const show = style ?? ((cell: string) => cell);
  return all.map((r, ri) => r.map((cell, i) => {
    const shown = show(cell, ri, i);
    return i === r.length - 1 ? shown : shown + ' '.repeat(Math.max(0, widths[i]! - displayWidth(cell)));
  }).join('  ')).join('\n') + '\n';
}

/** A column that may be cut, in display columns, to no less than `min` (nor its header). */
export interface Shrink { col: number; min: number }

/**
 * Cuts cells (sanitised first, in place), column by column in the order of `shrink`,
 * each down to its minimum, until the table fits in `width` columns. Returns whether
 * it fits.
 */
export function fitTable(header: string[], rows: string[][], width: number, shrink: Shrink[]): boolean {
  for (const r of rows) r.forEach((cell, i) => { r[i] = sanitize(cell); });
  const total = () => columnWidths([header, ...rows]).reduce((sum, w) => sum + w, 0) + 2 * (header.length - 1);
  for (const { col, min } of shrink) {
    const over = total() - width;
    if (over <= 0) return true;
    const now = columnWidths([header, ...rows])[col]!;
    const to = Math.max(min, displayWidth(header[col]!), now - over);
    if (to < now) for (const r of rows) r[col] = truncateWidth(r[col]!, to);
  }
  return total() <= width;
}

function columnWidths(all: string[][]): number[] {
  return all[0]!.map((_, i) => Math.max(...all.map((r) => displayWidth(r[i] ?? ''))));
}
