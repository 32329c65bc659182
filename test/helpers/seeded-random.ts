/**
 * Randomness a failure can be replayed from: a seed taken from `envName` when set, else from the
 * clock, and printed by the test that uses it (in its title), so a failing run says how to rerun it.
 */

/** mulberry32: small, seeded, good enough to pick mutations and kill points. */
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * @example
 * const { seed, random } = seededRandom('FUZZ_SEED')
 * test(`… (seed ${seed}; rerun with FUZZ_SEED=${seed})`, …)
 */
export function seededRandom (envName: string): { seed: number, random: () => number } {
  const seed = Number(process.env[envName] ?? Date.now() % 1_000_000)
  return { seed, random: mulberry32(seed) }
}
