/**
 * How seqlab prints numbers and plain-text tables, for the terminal and the report alike: one
 * place, so a number reads the same wherever it appears.
 */

/**
 * `digits` significant digits, in exponent form below 1e-3 and from 1e5; '-' for a missing value
 * (null, undefined, NaN, a non-number). With `exactIntegers`, whole numbers below 1e7 print as
 * they are (counts and steps: 500, not 500.0).
 */
export function fmt(x: unknown, digits = 4, exactIntegers = false): string {
  if (typeof x !== 'number' || Number.isNaN(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (exactIntegers && Number.isInteger(x) && a < 1e7) return String(x);
  return a >= 1e-3 && a < 1e5 ? x.toPrecision(digits) : x.toExponential(digits - 1);
}

/** fmt with whole numbers as they are: the report's cells. */
export function fmtNum(x: unknown, digits = 4): string {
  return fmt(x, digits, true);
}

/** A plain-text table with right-aligned columns two spaces apart; null cells are empty. */
export function table(header: readonly string[], rows: readonly (string | number | null)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((v) => (v === null ? '' : String(v))))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => r.map((v, c) => (v ?? '').padStart(widths[c])).join('  ')).join('\n');
}
