/** A plain-text table: columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function formatRows(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), ...cells.map(line)].join('\n')
}
