import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { rename, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { NotFoundError } from 'interface-store'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { contentPath, createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { integrityOfCid, rawCidFromIntegrity, rawCidOf } from '../../src/ipfs/cid.ts'
import { matchesIntegrity } from '../../src/integrity.ts'
import type { TarballRef } from '../../src/types.ts'
import { npmCiCache, runCleanup, tempDir } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let cacheDir: string
let refs: TarballRef[]

before(async () => {
  ({ cacheDir, refs } = await npmCiCache(await tempDir(cleanup)))
})
after(async () => runCleanup(cleanup))

async function read (iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of iterable) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('every tarball plain npm ci cached is a block under the raw CID derived from its integrity', async () => {
  const store = createCacheBlockstore({ cachePath: join(cacheDir, '_cacache') })
  assert.ok(refs.length > 50, `fixture lockfile has ${refs.length} tarballs`)
  for (const ref of refs) {
    const cid = rawCidFromIntegrity(ref.integrity)
    assert.ok(cid !== undefined, `${ref.name} has a sha512 integrity`)
    assert.equal(cid.code, 0x55, 'codec raw')
    assert.equal(cid.multihash.code, 0x13, 'sha2-512')
    assert.equal(await store.has(cid), true, `${ref.name} is in the store`)
    const bytes = await read(store.get(cid))
    assert.ok(matchesIntegrity(bytes, ref.integrity), `${ref.name} bytes match the integrity`)
    assert.ok(rawCidOf(bytes).equals(cid))
  }
  const many = []
  for await (const pair of store.getMany(refs.slice(0, 5).map((ref) => rawCidFromIntegrity(ref.integrity)!))) many.push(await read(pair.bytes))
  assert.equal(many.length, 5)
})

test('a block that is not cached is a NotFoundError, and has() says false', async () => {
  const store = createCacheBlockstore({ cachePath: join(cacheDir, '_cacache') })
  const missing = rawCidOf(randomBytes(100))
  assert.equal(await store.has(missing), false)
  await assert.rejects(read(store.get(missing)), (err: Error) => err.name === NotFoundError.name)
})

test('put stores a block under its own hash and refuses bytes that do not match the CID', async () => {
  const store = createCacheBlockstore({ cachePath: join(cacheDir, '_cacache') })
  const bytes = randomBytes(4096)
  const cid = CID.createV1(0x70 /* dag-pb */, await sha256.digest(bytes))
  await store.put(cid, bytes)
  assert.deepEqual(await read(store.get(cid)), bytes)
  const other = CID.createV1(0x55, await sha256.digest(randomBytes(10)))
  await assert.rejects(async () => store.put(other, bytes), /does not match/)
  assert.equal(await store.has(other), false)
  // blocks we add are index entries too, so `npm cache verify` keeps them and getAll finds them
  const all = []
  for await (const pair of store.getAll()) all.push(pair.cid.toString())
  assert.ok(all.includes(cid.toString()))
  assert.ok(all.includes(rawCidFromIntegrity(refs[0]!.integrity)!.toString()))
})

test('putVerified stores bytes the caller hashed already, under their CID, as put does', async () => {
  const store = createCacheBlockstore({ cachePath: join(cacheDir, '_cacache') })
  const bytes = randomBytes(5000)
  const cid = CID.createV1(0x55, await sha256.digest(bytes))
  await store.putVerified(cid, bytes)
  assert.deepEqual(await read(store.get(cid)), bytes)
  assert.equal(await store.size(cid), 5000)
})

test('read hashes a content file once, and again whenever the file changed: tampered bytes are never served', async () => {
  const cachePath = join(cacheDir, '_cacache')
  const store = createCacheBlockstore({ cachePath })
  const fileOf = (cid: CID): string => contentPath(cachePath, integrityOfCid(cid)!)
  // in place, its mtime put back: only the ctime tells (a sync write: as soon after the read as can be)
  const tamper = (cid: CID): void => {
    const { atime, mtime } = statSync(fileOf(cid))
    const bytes = readFileSync(fileOf(cid))
    bytes[10] = bytes[10]! ^ 0xff
    writeFileSync(fileOf(cid), bytes)
    utimesSync(fileOf(cid), atime, mtime)
  }

  // checked, then changed in place within the same second: file times may not have moved
  const fresh = randomBytes(3000)
  const freshCid = CID.createV1(0x55, await sha256.digest(fresh))
  await store.put(freshCid, fresh)
  assert.deepEqual(await store.read(freshCid, 1 << 20), fresh)
  tamper(freshCid)
  assert.equal(await store.read(freshCid, 1 << 20), undefined, 'a racy file is hashed again')
  await assert.rejects(read(store.get(freshCid)), (err: Error) => err.name === NotFoundError.name)

  // checked and remembered (older than a second), then changed in place or replaced
  const old = randomBytes(3000)
  const oldCid = CID.createV1(0x55, await sha256.digest(old))
  await store.put(oldCid, old)
  const other = randomBytes(3000)
  const otherCid = CID.createV1(0x55, await sha256.digest(other))
  await store.put(otherCid, other)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  assert.deepEqual(await store.read(oldCid, 1 << 20), old)
  assert.deepEqual(await store.read(otherCid, 1 << 20), other)
  tamper(oldCid)
  assert.equal(await store.read(oldCid, 1 << 20), undefined, 'changed in place')
  const replacement = Buffer.from(other)
  replacement[0] = replacement[0]! ^ 1
  await writeFile(`${fileOf(otherCid)}.tmp`, replacement)
  const { atime, mtime } = await stat(fileOf(otherCid))
  await utimes(`${fileOf(otherCid)}.tmp`, atime, mtime)
  await rename(`${fileOf(otherCid)}.tmp`, fileOf(otherCid))
  assert.equal(await store.read(otherCid, 1 << 20), undefined, 'replaced by another file with the same size and mtime')

  // bigger than asked: not read at all
  assert.equal(await store.read(rawCidFromIntegrity(refs[0]!.integrity)!, 10), undefined)
})
