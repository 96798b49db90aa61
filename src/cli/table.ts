// Plain aligned columns for terminals; the last column is not padded.
// `style` (optional) decorates a cell after its width is measured, so colour codes
// never count towards alignment; row 0 is the header.
export function formatTable(header: string[], rows: string[][], style?: (cell: string, row: number, col: number) => string): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const show = style ?? ((cell: string) => cell);
  return all.map((r, ri) => r.map((cell, i) => {
    const pad = i === r.length - 1 ? '' : ' '.repeat(Math.max(0, widths[i]! - cell.length));
    return show(cell, ri, i) + pad;
  }).join('  ')).join('\n') + '\n';
}
