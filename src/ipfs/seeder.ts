/**
 * Makes every tarball in npm's cache fetchable by any IPFS node, ahead of any ask: a small
 * tarball is a block already; a large one needs its UnixFS DAG (`unixfs-v1-2025`), which a stock
 * node asks for by its root and which only we can build. Each tarball, once servable, is provided
 * under the CID that serves it.
 *
 * Work is queued and done one tarball at a time, yielding between blocks and tarballs (see
 * LocalCids.prepare), so a cache of big tarballs costs one block of memory and leaves the event
 * loop to the peers being served. The cache's index is read at start, then what was added to it
 * every `rescanInterval` (other processes — npm, `ipfs-npm ci` — share the cache; see
 * cache-index-changes.ts), and a tarball this process caches is added as it is.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import ssri from 'ssri'
import { createCacheIndexChanges } from './cache-index-changes.ts'
import type { ProvideTarball } from './provide.ts'

export interface SeederInit {
  cachePath: string
  /** The CID serving the cached tarball with this sha512 integrity (building a large one's DAG, for `serve`). */
  prepare(integrity: string): Promise<CID | undefined>
  /** Another CID the same small tarball is served under (what `ipfs add` gives it), if any. */
  alsoAs?(integrity: string): Promise<CID | undefined>
  provideTarball: ProvideTarball
  /** `cid` just became servable: peers that wanted it before (and were told DONT_HAVE) get it now. */
  announce(cid: CID): void
  /** Stops the work for good (node stopping). */
  signal: AbortSignal
  log(msg: string): void
  /** ms between reads of the cache's index (and offers of what the DHT has not taken yet); 0: only at start. Default 60 s. */
  rescanInterval?: number
}

export interface SeederStatus {
  /** Tarballs servable (and offered to the DHT) so far. */
  tarballs: number
  /** Tarballs waiting to be prepared. */
  pending: number
}

export interface Seeder {
  /** The cache gained a tarball with this integrity (any algorithms). */
  added(integrity: string): void
  /** Offers everything servable to the DHT again (it may have had no peers before). */
  reprovide(): void
  status(): SeederStatus
}

/** Index keys under which npm (make-fetch-happen, pacote) and we store tarballs, not packuments. */
function isTarballKey (key: string): boolean {
  return key.startsWith('ipfs-npm:tarball:') || key.startsWith('pacote:tarball:') ||
    (key.startsWith('make-fetch-happen:request-cache:') && key.endsWith('.tgz'))
}

/** The sha512 part of an integrity, as cacache keys content, or undefined. */
function sha512Of (integrity: string): string | undefined {
  const hash = ssri.parse(integrity)?.sha512?.[0]
  return hash === undefined ? undefined : `sha512-${hash.digest}`
}

/**
 * @example
 * const seeder = startSeeder({ cachePath, prepare: localCids.prepare, provideTarball, announce, signal, log })
 * seeder.added(ref.integrity)
 */
export function startSeeder (init: SeederInit): Seeder {
  const { signal, log } = init
  const queue: string[] = []
  const queued = new Set<string>()
  /** Servable tarballs: sha512 integrity → the CIDs that serve it. */
  const prepared = new Map<string, CID[]>()
  let running = false

  const enqueue = (integrity: string): void => {
    if (signal.aborted || queued.has(integrity) || prepared.has(integrity)) return
    queued.add(integrity)
    queue.push(integrity)
    if (!running) void work()
  }

  const work = async (): Promise<void> => {
    running = true
    try {
      for (let integrity = queue.shift(); integrity !== undefined && !signal.aborted; integrity = queue.shift()) {
        try {
          const cid = await init.prepare(integrity)
          const also = cid?.code === raw.code ? await init.alsoAs?.(integrity) : undefined
          if (cid !== undefined && !signal.aborted) {
            const cids = also === undefined ? [cid] : [cid, also]
            prepared.set(integrity, cids)
            for (const served of cids) {
              init.provideTarball(integrity, served)
              // every CID: a want for the `ipfs add` CID of a small tarball, asked before it was
              // prepared here, waits on this as much as a large tarball's root does
              init.announce(served)
            }
          }
        } catch (err) {
          if (!signal.aborted) log(`ipfs: preparing ${integrity} for peers: ${(err as Error).message}`)
        } finally {
          queued.delete(integrity)
        }
        await yieldToEvents()
      }
    } finally {
      running = false
    }
  }

  const changes = createCacheIndexChanges(init.cachePath)
  /** The look under way: a slow one (a huge cache, a busy disk) is not started again on top. */
  let scanning: Promise<void> | undefined
  const scan = (): void => {
    scanning ??= look().finally(() => { scanning = undefined })
  }
  const look = async (): Promise<void> => {
    try {
      for (const entry of await changes.next()) {
        if (signal.aborted) return
        if (!isTarballKey(entry.key)) continue
        const integrity = sha512Of(entry.integrity)
        if (integrity !== undefined) enqueue(integrity)
      }
    } catch (err) {
      if (!signal.aborted) log(`ipfs: reading the cache index: ${(err as Error).message}`)
    }
  }

  const reprovide = (): void => {
    for (const [integrity, cids] of prepared) for (const cid of cids) init.provideTarball(integrity, cid)
  }

  scan()
  const interval = init.rescanInterval ?? 60_000
  if (interval > 0) {
    const timer = setInterval(() => {
      reprovide()
      scan()
    }, interval)
    timer.unref()
    signal.addEventListener('abort', () => clearInterval(timer), { once: true })
  }

  return {
    added (integrity) {
      const sha512 = sha512Of(integrity)
      if (sha512 !== undefined) enqueue(sha512)
    },
    reprovide,
    status: () => ({ tarballs: prepared.size, pending: queued.size }),
  }
}
