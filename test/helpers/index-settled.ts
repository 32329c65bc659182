/**
 * Waits for `serve --index` to have published what its clients fetched: it re-publishes a moment
 * after the last packument it served, so the published sequence (in its cache's
 * `_ipfs-npm/indexes/<name>.json`) must have moved past `after` and then stayed still a while.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The sequence `serve --index` last published for index `name` on `cacheDir`; -1 before any. */
export async function publishedSequence (cacheDir: string, name: string): Promise<number> {
  try {
    return Number((JSON.parse(await readFile(join(cacheDir, '_ipfs-npm', 'indexes', `${name}.json`), 'utf8')) as { sequence: string }).sequence)
  } catch {
    return -1
  }
}

export async function indexSettled (cacheDir: string, name: string, after: number, { quiet = 1500, limit = 30_000 } = {}): Promise<number> {
  const sequence = (): Promise<number> => publishedSequence(cacheDir, name)
  const deadline = Date.now() + limit
  let last = await sequence()
  let since = Date.now()
  while (Date.now() < deadline) {
    await sleep(100)
    const now = await sequence()
    if (now !== last) {
      last = now
      since = Date.now()
    } else if (now > after && Date.now() - since >= quiet) {
      return now
    }
  }
  throw new Error(`index ${name} was not re-published past sequence ${after} within ${limit} ms`)
}
