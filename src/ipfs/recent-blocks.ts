/**
 * The blocks served most recently, kept in memory up to a byte budget. Peers on a LAN fetch the
 * same lockfiles over and over (a CI fleet, a class); reading a block back from npm's cache costs
 * an open, a read, a close and fresh memory every time — 6 ms of serving CPU per MB on this
 * machine, mostly the major garbage collections that fresh ArrayBuffers bring on, more than the
 * encryption. Content-addressed bytes never go stale, so nothing here expires but by size and use.
 *
 * Two parts, so that a project bigger than the budget still gets hits:
 * - kept (3/4 of the budget): blocks come in while there is room and stay while in use; a block
 *   unused for `staleMs` makes room for a newcomer. A plain LRU fetched through in the same order
 *   each time (every install of a 178 MB monorepo against 64 MB) evicts each block just before it
 *   is asked again and never hits; this part keeps a steady share of it.
 * - trial (1/4): plain least-recently-used for what the kept part has no room for, so fetchers
 *   asking the same blocks at about the same time share one read; a hit there moves a block to
 *   the kept part when it has room.
 */

export interface RecentBlocks {
  get(key: string): Uint8Array | undefined
  /** Keeps `bytes` (a block over a quarter of the budget is not kept). */
  set(key: string, bytes: Uint8Array): void
}

export interface RecentBlocksInit {
  /** Bytes kept at most, both parts together. */
  maxBytes: number
  /** A kept block unused this long may make room for another, in ms (default 5 minutes). */
  staleMs?: number
  /** The clock, in ms (default Date.now). */
  now?: () => number
}

interface Kept {
  bytes: Uint8Array
  usedAt: number
}

/** @example const recent = createRecentBlocks({ maxBytes: 64 * 1024 * 1024 }); recent.set(key, bytes); recent.get(key) */
export function createRecentBlocks (init: RecentBlocksInit): RecentBlocks {
  const now = init.now ?? Date.now
  const staleMs = init.staleMs ?? 5 * 60_000
  const trialBudget = Math.floor(init.maxBytes / 4)
  const keptBudget = init.maxBytes - trialBudget
  // a Map iterates in insertion order: re-inserting on use keeps the least recent first
  const kept = new Map<string, Kept>()
  const trial = new Map<string, Uint8Array>()
  let keptBytes = 0
  let trialBytes = 0

  /** Room for `size` more bytes in the kept part, made by dropping stale blocks; false when none is. */
  const roomInKept = (size: number): boolean => {
    const at = now()
    for (const [key, old] of kept) {
      if (keptBytes + size <= keptBudget || at - old.usedAt < staleMs) break
      kept.delete(key)
      keptBytes -= old.bytes.byteLength
    }
    return keptBytes + size <= keptBudget
  }

  const keep = (key: string, bytes: Uint8Array): void => {
    if (roomInKept(bytes.byteLength)) {
      kept.set(key, { bytes, usedAt: now() })
      keptBytes += bytes.byteLength
      return
    }
    trial.set(key, bytes)
    trialBytes += bytes.byteLength
    for (const [oldest, old] of trial) {
      if (trialBytes <= trialBudget) break
      trial.delete(oldest)
      trialBytes -= old.byteLength
    }
  }

  return {
    get (key) {
      const hit = kept.get(key)
      if (hit !== undefined) {
        kept.delete(key)
        hit.usedAt = now()
        kept.set(key, hit)
        return hit.bytes
      }
      const bytes = trial.get(key)
      if (bytes !== undefined) {
        trial.delete(key)
        trialBytes -= bytes.byteLength
        keep(key, bytes)
      }
      return bytes
    },
    set (key, bytes) {
      if (bytes.byteLength > trialBudget || kept.has(key) || trial.has(key)) return
      keep(key, bytes)
    },
  }
}
