/**
 * npm's cache as tarball storage (src/cache.ts): what put writes is what cacache.put would have
 * written — content under each digest, one index entry each — and cacache, so pacote and npm,
 * read and verify it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import cacache from 'cacache'
import ssri from 'ssri'
import { createTarballCache } from '../src/cache.ts'
import { recordVerified } from '../src/integrity.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

let work: string
let runs = 0
const data = randomBytes(50_000)
const both = ssri.fromData(data, { algorithms: ['sha512', 'sha1'] }).toString()
const fresh = (): string => join(work, `cache-${runs++}`)

before(async () => { work = await tempDir('cache') })
after(async () => removeDir(work))

test('a tarball is filed under every digest of its integrity as cacache.put files it, and cacache verifies it', async () => {
  const ours = fresh()
  const theirs = fresh()
  const ref = { name: 'pkg', version: '1.0.0', integrity: both, resolved: 'https://registry.example/pkg/-/pkg-1.0.0.tgz' }
  await createTarballCache({ cachePath: ours }).put(ref, data)
  for (const algorithm of ['sha512', 'sha1']) {
    await cacache.put(theirs, `ipfs-npm:tarball:${algorithm}:pkg@1.0.0`, data, { algorithms: [algorithm], metadata: { url: ref.resolved } })
  }
  const entries = async (cache: string): Promise<unknown[]> => Object.values(await cacache.ls(cache)).map(({ time, path, ...rest }) => ({ ...rest, path: path.slice(cache.length) })).sort((a, b) => a.key.localeCompare(b.key))
  assert.deepEqual(await entries(ours), await entries(theirs))
  for (const hash of both.split(' ')) assert.deepEqual(Buffer.from(await cacache.get.byDigest(ours, hash)), data)
  assert.deepEqual(await readdir(join(ours, 'tmp')), [], 'nothing left aside')
  const stats = await cacache.verify(ours)
  assert.equal(stats.badContentCount, 0)
  assert.equal(stats.verifiedContent, 2)
})

test('bytes that do not match are refused with EINTEGRITY, nothing stored; a sha512 is added to a sha1-only integrity', async () => {
  const cache = createTarballCache({ cachePath: fresh() })
  const wrong = Buffer.from(data)
  wrong[0] ^= 1
  await assert.rejects(cache.put({ name: 'pkg', version: '1.0.0', integrity: both }, wrong), { code: 'EINTEGRITY' })
  assert.equal(await cache.has(both), false)
  const sha1Only = ssri.fromData(data, { algorithms: ['sha1'] }).toString()
  await assert.rejects(cache.put({ name: 'pkg', version: '1.0.0', integrity: sha1Only }, wrong), { code: 'EINTEGRITY' })
  await cache.put({ name: 'pkg', version: '1.0.0', integrity: sha1Only }, data)
  assert.equal(await cache.has(ssri.fromData(data, { algorithms: ['sha512'] }).toString()), true)
})

test('bytes recorded as verified against the integrity are filed without hashing them again; against another, or given away since, they are checked', async () => {
  const cache = createTarballCache({ cachePath: fresh() })
  const ref = { name: 'pkg', version: '1.0.0', integrity: both }
  // changed after the record: filed as recorded, which shows they were not hashed (only a checker records)
  const recorded = recordVerified(Buffer.from(data), both)
  recorded[0] ^= 1
  await cache.put(ref, recorded)
  assert.equal(await cache.has(both), true)
  const other = ssri.fromData(randomBytes(10), { algorithms: ['sha512'] }).toString()
  const elsewhere = recordVerified(Buffer.from(data), other)
  elsewhere[0] ^= 1
  await assert.rejects(createTarballCache({ cachePath: fresh() }).put(ref, elsewhere), { code: 'EINTEGRITY' })
  // moved to a worker: the emptied view is not what was checked
  const moved = recordVerified(new Uint8Array(data), both)
  structuredClone(moved.buffer, { transfer: [moved.buffer] })
  await assert.rejects(createTarballCache({ cachePath: fresh() }).put(ref, moved), { code: 'EINTEGRITY' })
})
