/**
 * The fetch phase (DESIGN step 6), a prefetch: as soon as the plan is known, every tarball it
 * needs that npm's cache lacks is asked for, many at once — from peers, else from the registry —
 * while reify runs. The extractor (./extract/extractor.ts) waits for each package's own tarball
 * only, so fetching and unpacking overlap per package.
 */
import { resolve as resolvePath } from 'node:path'
import type { TarballSource } from './extract/extractor.ts'
import type { TarballRef, TarballResolver } from './types.ts'

export interface FetchPhaseItem {
  ref: TarballRef
  /** A failure here is left to reify, which skips optional packages as npm does. */
  optional: boolean
  /** The folder reify unpacks it into. */
  path: string
}

export interface FetchPhaseInit {
  resolver: TarballResolver
  /** npm's `--offline`: nothing is fetched; reify then fails exactly where and how npm does. */
  offline: boolean
  /** How many tarballs are in flight at once; default 32. */
  concurrency?: number
  /**
   * Bytes of fetched tarballs kept for the extractor, which would otherwise read them back from
   * the cache; beyond it they are dropped (bounded memory). Default 64 MiB.
   */
  keepBytes?: number
}

export interface FetchPhase extends TarballSource {
  /** Settles when every fetch has ended; rejects with the first failure of a non-optional package. */
  done: Promise<void>
}

/** One item per tarball: the same integrity at several places in the tree is one fetch. */
export function uniqueTarballs<T extends FetchPhaseItem> (items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.ref.integrity, item])).values()]
}

/**
 * Starts fetching what `items` need and the cache lacks. After a non-optional package's failure
 * no new fetch starts (reify, failing on that package, asks only for what it still unpacks), and
 * the fetches under way are left to end: aborting them would only make make-fetch-happen retry them.
 *
 * @example
 * const phase = startFetchPhase(plannedTarballs(ideal, actual, init), { resolver, offline })
 * await phase.ready(ref); const bytes = await phase.read(ref)
 */
export function startFetchPhase (items: readonly FetchPhaseItem[], init: FetchPhaseInit): FetchPhase {
  const { resolver } = init
  const byPath = new Map(items.map((item) => [resolvePath(item.path), item.ref]))
  const fetches = new Map<string, Promise<void>>()
  const kept = new Map<string, Uint8Array>()
  let keepBudget = init.keepBytes ?? 64 * 1024 * 1024
  let failure: unknown

  const tarballs = uniqueTarballs(items)
  const missing = init.offline ? Promise.resolve([]) : resolver.missing(tarballs.map((item) => item.ref))
  const queued = missing.then((refs) => {
    const wanted = new Set(refs.map((ref) => ref.integrity))
    return tarballs.filter((item) => wanted.has(item.ref.integrity)).map((item) => {
      let settle!: () => void
      fetches.set(item.ref.integrity, new Promise<void>((resolve) => { settle = resolve }))
      return { item, settle }
    })
  })
  const fetched = queued.then((queue) => {
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        try {
          if (failure !== undefined) continue
          const { data } = await resolver.resolve(next.item.ref)
          if (data.length <= keepBudget) {
            keepBudget -= data.length
            kept.set(next.item.ref.integrity, data)
          }
        } catch (err) {
          if (!next.item.optional) failure ??= err
        } finally {
          next.settle()
        }
      }
    }
    return Promise.all(Array.from({ length: Math.min(init.concurrency ?? 32, queue.length) }, worker))
  })

  const done = fetched.then(() => {
    if (failure !== undefined) throw failure
  })
  done.catch(() => {}) // reify meets the same failure; whoever awaits `done` sees it too
  return {
    done,
    planned: (dest) => byPath.get(resolvePath(dest)),
    async ready (ref) {
      // a failure is the resolver's to report, for its own source: another lock entry with the
      // same integrity and a wrong URL must not fail this one
      await queued.catch(() => {})
      await fetches.get(ref.integrity)?.catch(() => {})
    },
    fetched: (ref) => fetches.has(ref.integrity),
    async read (ref) {
      const data = kept.get(ref.integrity)
      if (data === undefined) return (await resolver.resolve(ref)).data
      kept.delete(ref.integrity)
      keepBudget += data.length
      return data
    },
  }
}
