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

/**
 * Bytes this process has checked against an integrity, kept with the bytes themselves rather
 * than passed as a flag: whatever was not checked here — a peer's answer before the fetcher's
 * check, a registry response — has no entry and is hashed where it is stored, as before. The
 * length guards against bytes given away since (a buffer moved to a worker is emptied).
 */
const verified = new WeakMap<Uint8Array, { integrity: string, length: number }>()

/**
 * Records that `bytes` match every hash of `integrity` (the caller has just checked them), so
 * that storing them need not hash them again (src/cache.ts). Returns the bytes.
 */
export function recordVerified<T extends Uint8Array> (bytes: T, integrity: string): T {
  verified.set(bytes, { integrity, length: bytes.byteLength })
  return bytes
}

/** Whether `bytes` were recorded as matching every hash of `integrity` (recordVerified). */
export function isVerified (bytes: Uint8Array, integrity: string): boolean {
  const entry = verified.get(bytes)
  return entry !== undefined && entry.integrity === integrity && entry.length === bytes.byteLength
}

/** One hash as a single-hash SRI string (`sha512-…`), as cacache keys content. */
export function sriOf (hash: ssri.HashLike): string {
  return `${hash.algorithm}-${hash.digest}`
}
