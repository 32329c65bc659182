import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import cacache from 'cacache'
import { createCacheIndexChanges, type IndexEntry } from '../../src/ipfs/cache-index-changes.ts'
import { npmCiCache, runCleanup, tempDir } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let cacheDir: string

before(async () => {
  ({ cacheDir } = await npmCiCache(await tempDir(cleanup)))
})
after(async () => runCleanup(cleanup))

const sorted = (entries: IndexEntry[]): string[] => entries.map((e) => `${e.key} ${e.integrity}`).sort()

test('the first look finds every entry cacache.ls does; later ones only the entries added since', async () => {
  const cachePath = join(cacheDir, '_cacache')
  const changes = createCacheIndexChanges(cachePath)
  const all = Object.values(await cacache.ls(cachePath)).map((e) => ({ key: e.key, integrity: String(e.integrity) }))
  assert.ok(all.length > 50, `${all.length} entries`)
  // directories changed in the last two seconds are read again: let the cache npm just wrote settle
  await new Promise((resolve) => setTimeout(resolve, 2100))
  assert.deepEqual(sorted(await changes.next()), sorted(all))
  assert.deepEqual(await changes.next(), [])

  const added = await cacache.put(cachePath, 'ipfs-npm:test:added', Buffer.from('new content'))
  const seen = await changes.next()
  assert.deepEqual(sorted(seen), [`ipfs-npm:test:added ${String(added)}`])
  // a deleted entry (a null integrity appended) is not an entry
  await cacache.rm.entry(cachePath, 'ipfs-npm:test:added')
  await new Promise((resolve) => setTimeout(resolve, 2100))
  assert.deepEqual(await changes.next(), [])
  assert.deepEqual(await changes.next(), [])
})

test('a cache with no index yet has no entries', async () => {
  const changes = createCacheIndexChanges(join(await tempDir(cleanup), '_cacache'))
  assert.deepEqual(await changes.next(), [])
})
