/**
 * The fetch phase (DESIGN step 6): between plan and reify, every tarball the plan needs is put
 * into npm's cache — from peers, many at once, else from the registry — so that Arborist's pacote
 * finds each by digest and asks no one for it.
 */
import type { TarballCache, TarballRef, TarballResolver } from './types.ts'

export interface FetchPhaseInit {
  resolver: TarballResolver
  /** Called before fetching starts, when anything is missing (to start the node early). */
  onMissing?: () => void
  /** How many tarballs are in flight at once. */
  concurrency?: number
}

export interface FetchPhaseItem {
  ref: TarballRef
  /** A failure here is left to reify, which skips optional packages as npm does. */
  optional: boolean
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
 * Puts the `missing` items' tarballs into the cache; the resolver counts where each came from.
 * Throws the first failure of a non-optional package, as reify would have, once the fetches
 * already under way have ended: aborting them would only make make-fetch-happen retry them.
 */
export async function runFetchPhase (items: readonly FetchPhaseItem[], missing: readonly TarballRef[], init: FetchPhaseInit): Promise<void> {
  const wanted = new Set(missing.map((ref) => ref.integrity))
  const queue = uniqueTarballs(items).filter((item) => wanted.has(item.ref.integrity))
  if (queue.length > 0) init.onMissing?.()
  let failure: unknown

  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined && failure === undefined; item = queue.shift()) {
      try {
        await init.resolver.resolve(item.ref)
      } catch (err) {
        if (!item.optional) failure ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(init.concurrency ?? 32, queue.length) }, worker))
  if (failure !== undefined) throw failure
}
