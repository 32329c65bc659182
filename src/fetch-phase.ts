/**
 * The fetch phase (DESIGN step 6): every tarball the plan needs is put into npm's cache — from
 * peers, many at once, else from the registry — so that Arborist's pacote finds each by digest.
 * It runs alongside reify when reify's own requests for missing tarballs reach the shim (which
 * shares the resolver, so nothing is fetched twice), and before reify otherwise.
 */
import type { TarballCache, TarballRef, TarballResolver } from './types.ts'

export interface FetchPhaseInit {
  resolver: TarballResolver
  /** How many tarballs are in flight at once. */
  concurrency?: number
}

export interface FetchPhaseItem {
  ref: TarballRef
  /** A failure here is left to reify, which skips optional packages as npm does. */
  optional: boolean
}

/** A fetch phase under way. */
export interface FetchPhase {
  /**
   * Settles once every item is fetched or failed; throws the first failure of a non-optional
   * package, as reify would have. Fetches under way are never aborted (make-fetch-happen would
   * only retry them), so after a failure it still waits for them.
   */
  done(): Promise<void>
  /** Takes no more items; settles when those under way have ended. Failures are reify's to report. */
  stop(): Promise<void>
}

/** One item per tarball: the same integrity at several places in the tree is one fetch. */
export function uniqueTarballs<T extends FetchPhaseItem> (items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.ref.integrity, item])).values()]
}

/** Which of `refs` are not yet in the cache. */
export async function missingFromCache (cache: TarballCache, refs: readonly TarballRef[]): Promise<TarballRef[]> {
  const present = await Promise.all(refs.map((ref) => cache.has(ref.integrity)))
  return refs.filter((_, i) => !present[i])
}

/**
 * Starts putting the `missing` items' tarballs into the cache; the resolver counts where each came from.
 *
 * @example
 * const phase = startFetchPhase(planned, missing, { resolver })
 * await phase.done()
 */
export function startFetchPhase (items: readonly FetchPhaseItem[], missing: readonly TarballRef[], init: FetchPhaseInit): FetchPhase {
  const wanted = new Set(missing.map((ref) => ref.integrity))
  const queue = uniqueTarballs(items).filter((item) => wanted.has(item.ref.integrity))
  let failure: unknown
  let stopped = false

  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined && failure === undefined && !stopped; item = queue.shift()) {
      try {
        await init.resolver.resolve(item.ref)
      } catch (err) {
        if (!item.optional) failure ??= err
      }
    }
  }
  const workers = Promise.all(Array.from({ length: Math.min(init.concurrency ?? 32, queue.length) }, worker))
  return {
    async done () {
      await workers
      if (failure !== undefined) throw failure
    },
    async stop () {
      stopped = true
      await workers
    },
  }
}
