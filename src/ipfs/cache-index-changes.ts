/**
 * The entries added to npm's cache index since the last look, for the seeder's rescans. cacache
 * keeps an entry in a bucket file `index-v5/<xx>/<yy>/<rest of the key's sha256>`; a new key is
 * a new bucket file, so it changes the mtime of its `<yy>` directory (or of `<xx>`, for a new
 * `<yy>`). A look stats the directories and reads only the buckets of those that changed, where
 * `cacache.ls` reads and hashes every line of every bucket: 0.5 s of CPU for a monorepo's cache
 * (3,100 entries), every minute a serve runs.
 *
 * A line appended to an existing bucket (the same key stored again) changes no directory, and is
 * not seen: the seeder looks for new tarballs, which come under new keys. A directory changed
 * within two seconds of its look is looked at again next time (its mtime may not have moved for a
 * second change that close, as git's "racily clean" index entries).
 */
import { readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { setImmediate as yieldToEvents } from 'node:timers/promises'

const entryIndex = createRequire(import.meta.url)('cacache/lib/entry-index.js') as {
  bucketDir(cache: string): string
  /** A bucket's entries, oldest first; lines whose hash does not match are skipped. */
  bucketEntries(bucket: string): Promise<Array<{ key: string, integrity: string | null }>>
}

/** An index entry: its key and the integrity of the content it names. */
export interface IndexEntry {
  key: string
  integrity: string
}

export interface CacheIndexChanges {
  /** The entries of every bucket added since the last call (all of them, the first time). */
  next(): Promise<IndexEntry[]>
}

/** A directory changed this recently (ms) is read again on the next look. */
const RACY_MS = 2000
/** Directories stat'ed between two yields to the event loop. */
const STATS_PER_TURN = 256

/** Names in `dir`, none when it is gone. */
function namesIn (dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw err
  }
}

/** @example const changes = createCacheIndexChanges(cachePath); for (const entry of await changes.next()) … */
export function createCacheIndexChanges (cachePath: string): CacheIndexChanges {
  const root = entryIndex.bucketDir(cachePath)
  /** `xx` and `xx/yy` → their mtime when last read (absent: read it). */
  const seen = new Map<string, number>()

  /** Whether `dir` changed since it was last read; remembers its mtime unless too recent to trust. */
  const changed = (dir: string, now: number): boolean => {
    let mtime: number
    try {
      mtime = statSync(join(root, dir)).mtimeMs
    } catch {
      seen.delete(dir)
      return false
    }
    if (seen.get(dir) === mtime) return false
    if (now - mtime >= RACY_MS) seen.set(dir, mtime)
    else seen.delete(dir)
    return true
  }

  return {
    async next () {
      const now = Date.now()
      const subdirs = new Set<string>()
      let stats = 0
      for (const xx of namesIn(root)) {
        if (changed(xx, now)) for (const yy of namesIn(join(root, xx))) subdirs.add(`${xx}/${yy}`)
        if (++stats % STATS_PER_TURN === 0) await yieldToEvents()
      }
      // the `yy` already known, whose parent did not change
      for (const dir of seen.keys()) if (dir.includes('/')) subdirs.add(dir)
      const entries: IndexEntry[] = []
      for (const dir of subdirs) {
        if (changed(dir, now)) {
          for (const bucket of namesIn(join(root, dir))) {
            const latest = new Map<string, string | null>()
            for (const entry of await entryIndex.bucketEntries(join(root, dir, bucket)).catch(() => [])) latest.set(entry.key, entry.integrity)
            for (const [key, integrity] of latest) if (integrity !== null && integrity !== undefined) entries.push({ key, integrity })
          }
        }
        if (++stats % STATS_PER_TURN === 0) await yieldToEvents()
      }
      return entries
    },
  }
}
