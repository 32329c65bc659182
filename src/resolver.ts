/**
 * The resolver: a tarball from npm's cache, else from IPFS peers, else from the registry —
 * verified against its integrity before it is stored or served, and counted by origin. The fetch
 * phase and the registry shim's tarball route share one resolver, so a tarball is fetched once.
 */
import { integrityError } from './cache.ts'
import type { FetchedTarball, LazyPeers, OriginCounts, TarballCache, TarballRef, TarballResolver, Upstream } from './types.ts'

export interface ResolverInit {
  cache: TarballCache
  peers: LazyPeers
  upstream: Upstream
  /** npm's `--offline`: the cache only, neither peers nor registry. */
  offline: boolean
}

/** npm's error when `--offline` needs something the cache lacks. */
function notCachedError (ref: TarballRef): Error {
  return Object.assign(new Error(`request to ${ref.resolved ?? `${ref.name}@${ref.version}`} failed: cache mode is 'only-if-cached' but no cached response is available.`), { code: 'ENOTCACHED' })
}

/**
 * @example
 * const resolver = createTarballResolver({ cache, peers, upstream, offline: false })
 * const { data, origin } = await resolver.resolve({ name, version, integrity })
 */
export function createTarballResolver (init: ResolverInit): TarballResolver {
  const { cache, peers, upstream, offline } = init
  const counts: OriginCounts = { cache: 0, peers: 0, registry: 0 }
  const inFlight = new Map<string, Promise<FetchedTarball>>()

  async function fetchFrom (ref: TarballRef, signal?: AbortSignal): Promise<FetchedTarball> {
    const cached = await cache.get(ref.integrity)
    if (cached !== undefined) return { data: cached, origin: 'cache' }
    if (offline) throw notCachedError(ref)
    const fetcher = await peers.get()
    const fromPeers = await fetcher?.fetch(ref, { signal })
    if (fromPeers !== undefined) {
      await cache.put(ref, fromPeers)
      return { data: fromPeers, origin: 'peers' }
    }
    const fromRegistry = await upstream.tarball(ref, { signal })
    try {
      await cache.put(ref, fromRegistry)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINTEGRITY') throw integrityError(ref, 'the registry')
      throw err
    }
    return { data: fromRegistry, origin: 'registry' }
  }

  return {
    counts,
    resolve (ref, options = {}) {
      let pending = inFlight.get(ref.integrity)
      if (pending === undefined) {
        pending = fetchFrom(ref, options.signal).then((result) => {
          counts[result.origin]++
          return result
        }).finally(() => inFlight.delete(ref.integrity))
        inFlight.set(ref.integrity, pending)
      }
      return pending
    },
  }
}
