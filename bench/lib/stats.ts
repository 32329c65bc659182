/** Summaries of repeated runs. */

export interface Summary {
  n: number
  min: number
  median: number
  max: number
}

/** min/median/max of `values` (not empty). */
export function summarize (values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { n: sorted.length, min: sorted[0], median, max: sorted[sorted.length - 1] }
}

/** The ratio of each round's `a` to the same round's `b` (runs alternate, so round i of each is a pair). */
export function pairedRatios (a: readonly number[], b: readonly number[]): number[] {
  return a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i])
}
