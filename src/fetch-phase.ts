/**
 * The fetch phase (DESIGN step 6): between plan and reify, every tarball the plan needs is put
 * into npm's cache — from peers, many at once, else from the registry — so that Arborist's pacote
 * finds each by digest and asks no one for it.
 */
import type { TarballCache, TarballRef, TarballResolver } from './types.ts'

export interface FetchPhaseInit {
  cache: TarballCache
  resolver: TarballResolver
  /** Called as soon as something is found missing, before fetching starts (to start the node early). */
  onMissing?: () => void
  /** How many tarballs are in flight at once. */
  concurrency?: number
}

export interface FetchPhaseItem {
  ref: TarballRef
  /** A failure here is left to reify, which skips optional packages as npm does. */
  optional: boolean
}

/** Which of `refs` are not yet in the cache. */
export async function missingFromCache (cache: TarballCache, refs: readonly TarballRef[]): Promise<TarballRef[]> {
  const present = await Promise.all(refs.map((ref) => cache.has(ref.integrity)))
  return refs.filter((_, i) => !present[i])
}

/**
 * Makes sure every item's tarball is in the cache. Returns how many were there already; the
 * resolver counts what came from peers and from the registry. Throws the first failure of a
 * non-optional package, as reify would have.
 */
export async function runFetchPhase (items: readonly FetchPhaseItem[], init: FetchPhaseInit): Promise<{ cached: number }> {
  const unique = new Map(items.map((item) => [item.ref.integrity, item]))
  const missing = new Set(await missingFromCache(init.cache, [...unique.values()].map((item) => item.ref)))
  if (missing.size > 0) init.onMissing?.()
  const queue = [...unique.values()].filter((item) => missing.has(item.ref))
  const controller = new AbortController()
  let failure: unknown

  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined && failure === undefined; item = queue.shift()) {
      try {
        await init.resolver.resolve(item.ref, { signal: controller.signal })
      } catch (err) {
        if (item.optional) continue
        failure ??= err
        controller.abort()
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(init.concurrency ?? 32, queue.length) }, worker))
  if (failure !== undefined) throw failure
  return { cached: unique.size - missing.size }
}
