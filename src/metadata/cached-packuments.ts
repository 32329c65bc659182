/**
 * The packuments this machine can give peers: npm's own HTTP cache entries (make-fetch-happen's
 * `make-fetch-happen:request-cache:<url>` in cacache), as plain npm left them — full or abbreviated,
 * with the time npm fetched them. Never one from a registry this machine sends credentials to,
 * unless the asker is inside our private network: such a packument may describe private packages.
 */
import cacache from 'cacache'
import type { SharingPolicy } from '../sharing.ts'

/** A cached packument, as the packument protocol carries it. */
export interface CachedPackument {
  /** The body npm stored (JSON text). */
  text: string
  /** When npm fetched it, ms since the epoch. */
  fetched: number
  /** Full (`application/json`) rather than abbreviated (`application/vnd.npm.install-v1+json`). */
  full: boolean
}

export interface CachedPackumentsInit {
  /** cacache's directory: `${cacheDir}/_cacache`. */
  cachePath: string
  /** Whether a packument is private (src/sharing.ts: a registry npm has credentials for, or one marked private). */
  isPrivate: SharingPolicy['isPrivate']
  /** Whether peers reach us only through a private network (swarm key). */
  privateNetwork: boolean
}

/** Looks up the packument of `name` as fetched from `registry` (with a trailing slash). */
export type PackumentLookup = (name: string, registry: string) => Promise<CachedPackument | undefined>

/** The URL npm fetches a packument from (npm-package-arg's escapedName: `@scope%2fname`). */
export function packumentUrl (registry: string, name: string): string {
  return `${registry}${name.replace('/', '%2f')}`
}

export function createCachedPackuments (init: CachedPackumentsInit): PackumentLookup {
  return async (name, registry) => {
    if (!/^https?:\/\/[^\s]+\/$/.test(registry)) return undefined
    if (!init.privateNetwork && init.isPrivate({ name, url: packumentUrl(registry, name) })) return undefined
    const entry = await cacache.get.info(init.cachePath, `make-fetch-happen:request-cache:${packumentUrl(registry, name)}`).catch(() => null)
    const metadata = entry?.metadata as { time?: number, status?: number, reqHeaders?: { accept?: string } } | undefined
    if (entry === null || entry === undefined || metadata?.status !== undefined) return undefined
    try {
      const text = (await cacache.get.byDigest(init.cachePath, entry.integrity)).toString('utf8')
      return { text, fetched: metadata?.time ?? entry.time, full: !String(metadata?.reqHeaders?.accept ?? '').includes('vnd.npm.install-v1') }
    } catch {
      return undefined
    }
  }
}
