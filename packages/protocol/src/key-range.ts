/**
 * Key order is JavaScript's string order (UTF-16 code units), the order every group and the
 * client sort keys in. For ASCII keys it is byte order.
 */

/**
 * The smallest string above every string that starts with `prefix` (exclusive end of the prefix's
 * range), or null when there is none (the prefix is empty or all U+FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  let end = prefix
  while (end.length > 0) {
    const last = end.charCodeAt(end.length - 1)
    if (last < 0xffff) return end.slice(0, -1) + String.fromCharCode(last + 1)
    end = end.slice(0, -1)
  }
  return null
}
