/**
 * The integrities under which npm's cache holds a package version's tarball, found by name and
 * version — for asks whose digest the cache does not key content by. npm 11 stores a tarball
 * whose lockfile integrity is sha1-only under sha512 only, so the sha1 finds nothing; the index
 * entries npm wrote for the package do:
 * - `pacote:tarball:<name>@<version>`;
 * - `make-fetch-happen:request-cache:<registry>/<name>/-/<basename>-<version>.tgz`.
 * Both are exact cacache keys (one bucket read each), except for the registry part of the second:
 * the registry prefixes tarball URLs in this cache use are learned by reading the whole index
 * once, not per ask, and again only when an ask finds nothing and the last read is a while old.
 */
import cacache from 'cacache'
import { tarballFileName } from '../tarball-url.ts'
import type { TarballRef } from '../types.ts'

/** A package version, as the asker names it. */
export type PackageId = Pick<TarballRef, 'name' | 'version'>

/** Integrities (single-hash SRI strings, as npm cached the content) for a package version. */
export type PackageTarballs = (pkg: PackageId) => Promise<string[]>

const MFH_PREFIX = 'make-fetch-happen:request-cache:'
/** The part of a tarball URL before `<name>/-/<file>.tgz`; names may be scoped. */
const TARBALL_URL = /^(.*\/)(?:@[^/]+\/)?[^/@][^/]*\/-\/[^/]+\.tgz$/
/** At most this many registry prefixes are tried per ask (a cache normally knows one or two). */
const MAX_PREFIXES = 8
/** An ask that finds nothing re-reads the index at most this often. */
const RESCAN_INTERVAL = 60_000

/** Creates the lookup over the cacache at `cachePath`. */
export function createPackageTarballs (cachePath: string): PackageTarballs {
  let prefixes: Promise<string[]> | undefined
  let scannedAt = 0

  const scan = async (): Promise<string[]> => {
    scannedAt = Date.now()
    const seen = new Set<string>()
    for await (const entry of cacache.ls.stream(cachePath) as AsyncIterable<cacache.CacheObject>) {
      if (!entry.key.startsWith(MFH_PREFIX)) continue
      const prefix = TARBALL_URL.exec(entry.key.slice(MFH_PREFIX.length))?.[1]
      if (prefix !== undefined) seen.add(prefix)
    }
    return [...seen].slice(0, MAX_PREFIXES)
  }
  const learnPrefixes = (): Promise<string[]> => {
    prefixes ??= scan().catch(() => [])
    return prefixes
  }

  const integrityOf = async (key: string): Promise<string | undefined> => {
    const entry = await cacache.get.info(cachePath, key).catch(() => null)
    return entry?.integrity === undefined ? undefined : String(entry.integrity)
  }

  const lookup = async (pkg: PackageId): Promise<string[]> => {
    const keys = [`pacote:tarball:${pkg.name}@${pkg.version}`, ...(await learnPrefixes()).map((prefix) => `${MFH_PREFIX}${prefix}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`)]
    const found = await Promise.all(keys.map(integrityOf))
    return [...new Set(found.filter((integrity) => integrity !== undefined))]
  }

  return async (pkg) => {
    const found = await lookup(pkg)
    if (found.length > 0 || Date.now() - scannedAt < RESCAN_INTERVAL) return found
    // maybe cached from a registry this cache had not used when we last read the index
    prefixes = undefined
    return await lookup(pkg)
  }
}
