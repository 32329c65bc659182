/**
 * The blocks served most recently, kept in memory up to a byte budget (least recently used out
 * first). Peers on a LAN fetch the same lockfiles over and over (a CI fleet, a class); reading a
 * block back from npm's cache costs a stat, an open, an fstat, a read, a close and a sha2-512 of
 * the bytes every time — 20–25 ms of serving CPU per MB on this machine, more than the encryption.
 * Content-addressed bytes never go stale, so nothing here expires but by size.
 */

export interface RecentBlocks {
  get(key: string): Uint8Array | undefined
  /** Keeps `bytes` (a block over a quarter of the budget is not kept). */
  set(key: string, bytes: Uint8Array): void
}

/** @example const recent = createRecentBlocks(64 * 1024 * 1024); recent.set(key, bytes); recent.get(key) */
export function createRecentBlocks (maxBytes: number): RecentBlocks {
  // a Map iterates in insertion order: re-inserting on use keeps the least recent first
  const blocks = new Map<string, Uint8Array>()
  let total = 0
  return {
    get (key) {
      const bytes = blocks.get(key)
      if (bytes !== undefined) {
        blocks.delete(key)
        blocks.set(key, bytes)
      }
      return bytes
    },
    set (key, bytes) {
      if (bytes.byteLength > maxBytes / 4 || blocks.has(key)) return
      blocks.set(key, bytes)
      total += bytes.byteLength
      for (const [oldest, old] of blocks) {
        if (total <= maxBytes) break
        blocks.delete(oldest)
        total -= old.byteLength
      }
    },
  }
}
