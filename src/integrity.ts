/** SRI helpers: every algorithm of an integrity counts, not just the strongest. */
import { createHash, getHashes } from 'node:crypto'
import ssri from 'ssri'

/** The algorithms npm's lockfiles carry, strongest first. */
export const ALGORITHMS = ['sha512', 'sha384', 'sha256', 'sha1'] as const
const STRENGTH: readonly string[] = ALGORITHMS

/** The hashes of an SRI string, strongest algorithm first; unknown algorithms last. */
export function hashesOf (integrity: string): ssri.HashLike[] {
  // ssri.parse gives null for a string with no hash in it (a malformed lockfile entry)
  const parsed = ssri.parse(integrity) ?? {}
  const rank = (algorithm: string): number => {
    const i = STRENGTH.indexOf(algorithm)
    return i === -1 ? STRENGTH.length : i
  }
  return Object.keys(parsed)
    .sort((a, b) => rank(a) - rank(b))
    .flatMap((algorithm) => parsed[algorithm] ?? [])
}

/**
 * Whether `bytes` match every hash of `integrity` (ssri's own check looks at the strongest
 * algorithm only). False when the integrity has no hash we can compute.
 */
export function matchesIntegrity (bytes: Uint8Array, integrity: string): boolean {
  const supported = new Set(getHashes())
  const hashes = hashesOf(integrity).filter((hash) => supported.has(hash.algorithm))
  return hashes.length > 0 && hashes.every((hash) => createHash(hash.algorithm).update(bytes).digest('base64') === hash.digest)
}

/** One hash as a single-hash SRI string (`sha512-…`), as cacache keys content. */
export function sriOf (hash: ssri.HashLike): string {
  return `${hash.algorithm}-${hash.digest}`
}
