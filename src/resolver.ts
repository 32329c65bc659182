/**
 * The resolver: a tarball from npm's cache, else from IPFS peers, else from the registry —
 * verified against its integrity before it is stored or served, and counted by origin. The fetch
 * phase and the registry shim's tarball route share one resolver, so a tarball is fetched once.
 */
import { npmError } from './errors.ts'
import { integrityError } from './cache.ts'
import { hashesOf, sriOf } from './integrity.ts'
import type { FetchedTarball, LazyPeers, OriginCounts, PeerFetcher, TarballCache, TarballRef, TarballResolver, Upstream } from './types.ts'

export interface ResolverInit {
  cache: TarballCache
  /** Asked only for the fetcher, which starts the node: the resolver decides when a tarball needs peers. */
  peers: Pick<LazyPeers, 'get'>
  upstream: Upstream
  /** npm's `--offline`: the cache only, neither peers nor registry. */
  offline: boolean
  /**
   * One install (ci, install): a tarball that failed is not fetched again from the same source;
   * its error answers every later ask. Reify asks the shim for what the fetch phase could not get
   * (an optional package), and a second try would repeat npm's whole retry back-off. A long-lived
   * `serve` leaves this off and tries again each time.
   */
  oneRun?: boolean
}

/** npm's error when `--offline` needs something the cache lacks. */
function notCachedError (ref: TarballRef): Error {
  return npmError('ENOTCACHED', `request to ${ref.resolved ?? `${ref.name}@${ref.version}`} failed: cache mode is 'only-if-cached' but no cached response is available.`)
}

/** The first tarball either source delivers; the registry's error when neither does. */
function firstOf (registry: Promise<FetchedTarball>, peers: Promise<FetchedTarball | undefined>): Promise<FetchedTarball> {
  return new Promise((resolve, reject) => {
    let registryError: unknown
    let pending = 2
    const settle = (): void => {
      if (--pending === 0) reject(registryError)
    }
    registry.then(resolve, (err: unknown) => {
      registryError = err
      settle()
    })
    void peers.then((result) => result === undefined ? settle() : resolve(result))
  })
}

/** A fetch under way: `copies` holds one copy of the bytes for each caller that joined it, made as it ends. */
interface InFlight {
  source: string
  promise: Promise<FetchedTarball>
  joiners: number
  copies: Uint8Array[]
}

/**
 * @example
 * const resolver = createTarballResolver({ cache, peers, upstream, offline: false })
 * const { data, origin } = await resolver.resolve({ name, version, integrity })
 */
export function createTarballResolver (init: ResolverInit): TarballResolver {
  const { cache, peers, upstream, offline } = init
  const counts: OriginCounts = { cache: 0, peers: 0, registry: 0 }
  /** Verified bytes handed in, by each single-hash SRI of their integrity (see TarballResolver.preload). */
  const preloads = new Map<string, FetchedTarball>()
  const inFlight = new Map<string, InFlight>()
  const failures = new Map<string, Promise<FetchedTarball>>()
  // a tarball counts once, by its first origin: a later ask finds it in the cache it was put in
  const counted = new Set<string>()
  /**
   * Integrities `missing` found absent: their first fetch skips the cache read (a failed read is
   * a thrown ENOENT each, 130 ms of the main thread for the monorepo's 1,101 tarballs).
   */
  const knownAbsent = new Set<string>()

  /** The registry's bytes, verified by storing them. */
  async function fromRegistry (ref: TarballRef): Promise<FetchedTarball> {
    const data = await upstream.tarball(ref)
    try {
      await cache.put(ref, data)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINTEGRITY') throw integrityError(ref, 'the registry')
      throw err
    }
    return { data, origin: 'registry' }
  }

  /** The peers' bytes (verified by the fetcher, which the cache does not repeat), or undefined. */
  async function fromPeers (fetcher: PeerFetcher, ref: TarballRef): Promise<FetchedTarball | undefined> {
    const data = await fetcher.fetch(ref)
    if (data === undefined) return undefined
    await cache.put(ref, data)
    return { data, origin: 'peers' }
  }

  async function fetchFrom (ref: TarballRef): Promise<FetchedTarball> {
    const preloaded = hashesOf(ref.integrity).map((hash) => preloads.get(sriOf(hash))).find((each) => each !== undefined)
    if (preloaded !== undefined) {
      await cache.put(ref, preloaded.data)
      return { ...preloaded, data: new Uint8Array(preloaded.data) }
    }
    const cached = knownAbsent.delete(ref.integrity) ? undefined : await cache.get(ref.integrity)
    if (cached !== undefined) return { data: cached, origin: 'cache' }
    if (offline) throw notCachedError(ref)
    const fetcher = await peers.get()
    if (fetcher === undefined) return fromRegistry(ref)
    const first = await fromPeers(fetcher, ref)
    if (first !== undefined) return first
    // Peers stayed silent for the bounded wait: the registry now, and the peers a second chance
    // meanwhile — a loaded peer may answer late, while a dead registry costs npm's whole back-off.
    return firstOf(fromRegistry(ref), fromPeers(fetcher, ref).catch(() => undefined))
  }

  /**
   * One fetch per integrity at a time: the same bytes, wherever they are wanted from. A failure
   * belongs to its source, though: a lock entry whose URL is wrong must not fail another entry
   * with the same integrity and a good URL. The bytes are each caller's own (the extraction
   * moves them to a worker thread): whoever joins a fetch under way gets a copy, made as the
   * fetch ends, before any caller's own reaction can give the bytes away.
   */
  function resolve (ref: TarballRef): Promise<FetchedTarball> {
    const source = `${ref.integrity} ${ref.resolved ?? `${ref.name}@${ref.version}`}`
    const failed = failures.get(source)
    if (failed !== undefined) return failed
    const pending = inFlight.get(ref.integrity)
    if (pending !== undefined) {
      pending.joiners++
      return pending.promise.then((result) => ({ ...result, data: pending.copies.pop()! }), (err: unknown) => {
        if (pending.source === source) throw err
        return resolve(ref)
      })
    }
    const promise: Promise<FetchedTarball> = fetchFrom(ref).then((result) => {
      if (!counted.has(ref.integrity)) counts[result.origin]++
      counted.add(ref.integrity)
      inFlight.delete(ref.integrity)
      for (let i = 0; i < entry.joiners; i++) entry.copies.push(new Uint8Array(result.data))
      return result
    }, (err: unknown) => {
      inFlight.delete(ref.integrity)
      if (init.oneRun === true) failures.set(source, promise)
      throw err
    })
    const entry: InFlight = { source, promise, joiners: 0, copies: [] }
    inFlight.set(ref.integrity, entry)
    return promise
  }

  /**
   * Which of `refs` the cache lacks. They are about to be fetched, so when any is missing the
   * IPFS node starts now, while the rest of the plan is made: this and a first fetch are the only
   * ways an install starts it.
   */
  async function missing (refs: readonly TarballRef[]): Promise<TarballRef[]> {
    const present = await Promise.all(refs.map((ref) => cache.has(ref.integrity)))
    const absent = refs.filter((_, i) => !present[i])
    for (const ref of absent) knownAbsent.add(ref.integrity)
    if (absent.length > 0 && !offline) void peers.get().catch(() => {})
    return absent
  }

  return {
    counts,
    resolve,
    missing,
    preload (ref, fetched) {
      for (const hash of hashesOf(ref.integrity)) preloads.set(sriOf(hash), fetched)
    },
  }
}
