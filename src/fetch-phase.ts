/**
 * The fetch phase (DESIGN step 6), a prefetch: as soon as the plan is known, every tarball it
 * needs that npm's cache lacks is asked for, many at once — from peers, else from the registry —
 * while reify runs. The extractor (./extract/extractor.ts) waits for each package's own tarball
 * only, so fetching and unpacking overlap per package. Fetched bytes wait in memory for the
 * extractor within a byte window (backpressure): on a 3,000-package project the prefetch stays a
 * window ahead of extraction instead of holding, or re-reading from the cache, what it ran ahead for.
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
  /** How many tarballs are asked for at once; default 64. */
  concurrency?: number
  /**
   * The window: bytes of fetched tarballs the extractor has not taken yet. While it is full no
   * new fetch starts, so a fast peer cannot run far ahead of extraction (CPU goes to unpacking
   * what is here) and memory stays bounded however many packages the plan has. Default 64 MiB.
   */
  windowBytes?: number
  /**
   * How long a full window may go without the extractor taking a tarball before the oldest are
   * let go (they are in the cache: a late read costs a cache read): a tarball reify unpacks some
   * other way, or not at all, must not stop the prefetch. Default 1000 ms.
   */
  stallMs?: number
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
 * Starts fetching what `items` need and the cache lacks, in plan order, each tarball handed to
 * the extractor as soon as it is in (fetched and unpacked overlap per package), within a byte
 * window (FetchPhaseInit.windowBytes). After a non-optional package's failure no new fetch starts
 * (reify, failing on that package, asks only for what it still unpacks), and the fetches under
 * way are left to end: aborting them would only make make-fetch-happen retry them.
 *
 * @example
 * const phase = startFetchPhase(plannedTarballs(ideal, actual, init), { resolver, offline })
 * await phase.ready(ref); const bytes = await phase.read(ref)
 */
export function startFetchPhase (items: readonly FetchPhaseItem[], init: FetchPhaseInit): FetchPhase {
  const { resolver } = init
  const windowBytes = init.windowBytes ?? 64 * 1024 * 1024
  const stallMs = init.stallMs ?? 1000
  const byPath = new Map(items.map((item) => [resolvePath(item.path), item.ref]))
  /** How many places in the tree each integrity is unpacked into: its bytes are kept for each. */
  const places = new Map<string, number>()
  for (const ref of byPath.values()) places.set(ref.integrity, (places.get(ref.integrity) ?? 0) + 1)
  const fetches = new Map<string, Promise<void>>()
  /**
   * Fetched, not yet taken by the extractor as often as the tree has it (`readers` left), oldest
   * first (a Map keeps insertion order). A tarball at 155 places of the monorepo's tree was read
   * back from the cache and hashed again for each place after the first.
   */
  const kept = new Map<string, { data: Uint8Array, readers: number }>()
  let held = 0
  const fromRegistry = new Set<string>()
  let failure: unknown
  const roomWaiters: Array<() => void> = []
  let stallTimer: NodeJS.Timeout | undefined

  const wake = (): void => {
    while (held < windowBytes && roomWaiters.length > 0) roomWaiters.shift()!()
    clearTimeout(stallTimer)
    stallTimer = roomWaiters.length === 0 ? undefined : setTimeout(onStall, stallMs)
  }
  /** Nothing taken for stallMs with the window full: the oldest go until there is room. */
  const onStall = (): void => {
    for (const [integrity, { data }] of kept) {
      if (held < windowBytes) break
      kept.delete(integrity)
      held -= data.length
    }
    wake()
  }
  const room = async (): Promise<void> => {
    if (held < windowBytes) return
    await new Promise<void>((resolve) => {
      roomWaiters.push(resolve)
      stallTimer ??= setTimeout(onStall, stallMs)
    })
  }

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
          await room()
          if (failure !== undefined) continue
          const { data, origin } = await resolver.resolve(next.item.ref)
          if (origin === 'registry') fromRegistry.add(next.item.ref.integrity)
          kept.set(next.item.ref.integrity, { data, readers: places.get(next.item.ref.integrity) ?? 1 })
          held += data.length
        } catch (err) {
          if (!next.item.optional) failure ??= err
        } finally {
          next.settle()
        }
      }
    }
    return Promise.all(Array.from({ length: Math.min(init.concurrency ?? 64, queue.length) }, worker))
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
    size: (ref) => kept.get(ref.integrity)?.data.length,
    fetched: (ref) => fetches.has(ref.integrity),
    fromRegistry: (ref) => fromRegistry.has(ref.integrity),
    async read (ref) {
      const entry = kept.get(ref.integrity)
      if (entry === undefined) return (await resolver.resolve(ref)).data
      // each reader's own bytes (TarballSource.read): the last one takes them, the others a copy
      if (--entry.readers > 0) return new Uint8Array(entry.data)
      kept.delete(ref.integrity)
      held -= entry.data.length
      wake()
      return entry.data
    },
  }
}
