/**
 * How many tarballs npm's cache holds and their size, for `serve`'s status: every index entry
 * that names a tarball (npm's `make-fetch-happen:request-cache:<…>.tgz` and
 * `pacote:tarball:<spec>`, our `ipfs-npm:tarball:…`), counted once per sha512 content (our cache
 * writes a tarball once per algorithm of its integrity; sha512 is always one). Reading the
 * whole index costs a moment on a large cache, so a reading is reused for a while.
 */
import cacache from 'cacache'

export interface CacheStats { tarballs: number, bytes: number }

const TARBALL_KEY = /^(?:make-fetch-happen:request-cache:.*\.tgz|pacote:tarball:.*|ipfs-npm:tarball:.*)$/
const REUSE_MS = 30_000

/** Reads the stats of the cacache at `cachePath`, at most once per 30 s. */
export function createCacheStats (cachePath: string): () => Promise<CacheStats> {
  let last: { at: number, stats: Promise<CacheStats> } | undefined

  async function read (): Promise<CacheStats> {
    const seen = new Set<string>()
    let bytes = 0
    for await (const entry of cacache.ls.stream(cachePath) as AsyncIterable<cacache.CacheObject>) {
      if (!entry.integrity.startsWith('sha512-') || !TARBALL_KEY.test(entry.key) || seen.has(entry.integrity)) continue
      seen.add(entry.integrity)
      bytes += entry.size ?? 0
    }
    return { tarballs: seen.size, bytes }
  }

  return () => {
    if (last === undefined || Date.now() - last.at > REUSE_MS) {
      const stats = read().catch(() => ({ tarballs: 0, bytes: 0 }))
      last = { at: Date.now(), stats }
    }
    return last.stats
  }
}
