/**
 * A large cached tarball's DAG as the answering side builds it: the root `importTarball` (and so
 * `ipfs add` with the profile) gives the same bytes, the leaves served out of the cached tarball by
 * offset — by this process and by the next one, from the index — and never a leaf whose bytes no
 * longer match it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import cacache from 'cacache'
import ssri from 'ssri'
import { contentPath, createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { importTarball } from '../../src/ipfs/cid.ts'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { createLocalCids } from '../../src/ipfs/local-cids.ts'
import { createPackageTarballs } from '../../src/ipfs/package-tarballs.ts'
import { runCleanup, tempDir } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
after(async () => runCleanup(cleanup))
const MiB = 1024 * 1024

/** The answering side over the cache in `dir`, as a fresh process would make it. */
function localCidsOf (dir: string): { localCids: ReturnType<typeof createLocalCids>, blockstore: ReturnType<typeof createCacheBlockstore> } {
  const cachePath = join(dir, '_cacache')
  const blockstore = createCacheBlockstore({ cachePath })
  const index = createCidIndex(join(dir, 'cids'))
  const localCids = createLocalCids({ cachePath, blockstore, index, packageTarballs: createPackageTarballs(cachePath), profileIndex: createCidIndex(join(dir, 'profile')), mayName: async () => true })
  return { localCids, blockstore }
}

async function bytesOf (iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of iterable) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('a large tarball\'s root is the importer\'s; its leaves are slices of the cached tarball, after a restart too', async () => {
  const dir = await tempDir(cleanup, 'local-cids')
  const cachePath = join(dir, '_cacache')
  // just over one leaf, whole leaves only, and a short last leaf
  for (const size of [MiB + 1, 2 * MiB, 5 * MiB + 12345]) {
    const data = randomBytes(size)
    const integrity = ssri.fromData(data, { algorithms: ['sha512'] }).toString()
    await cacache.put(cachePath, `test:${size}`, data, { integrity, algorithms: ['sha512'] })
    const expected = await importTarball([data], { put: async (cid) => cid })

    // built as `serve` prepares it: resolves once the root and the leaves' places are written
    const first = localCidsOf(dir)
    const root = await first.localCids.prepare(integrity, true)
    assert.ok(root?.equals(expected), `${size} bytes: the root importTarball gives (${root} vs ${expected})`)
    const links = dagPb.decode(await bytesOf(first.blockstore.get(root!))).Links
    assert.equal(links.length, Math.ceil(size / MiB))
    const leaves = await Promise.all(links.map(async (link) => bytesOf(first.blockstore.get(link.Hash))))
    assert.ok(Buffer.concat(leaves).equals(data), `${size} bytes: the leaves are the tarball`)
    const blocks = Object.keys(await cacache.ls(cachePath)).filter((key) => key.startsWith('ipfs-npm:block:'))
    assert.ok(blocks.includes(`ipfs-npm:block:${root}`) && !links.some((link) => blocks.includes(`ipfs-npm:block:${link.Hash}`)), 'the root is stored as a block, the leaves are not')

    // a new process: the index names the root, the cache's index the leaves' places
    const next = localCidsOf(dir)
    assert.ok((await next.localCids.prepare(integrity, false))?.equals(root), 'the root is indexed')
    const again = await Promise.all(links.map(async (link) => bytesOf(next.blockstore.get(link.Hash))))
    assert.ok(Buffer.concat(again).equals(data), `${size} bytes: the leaves served after a restart`)
  }
})

test('a slice whose bytes changed on disk is not served', async () => {
  const dir = await tempDir(cleanup, 'local-cids-corrupt')
  const cachePath = join(dir, '_cacache')
  const data = randomBytes(3 * MiB)
  const integrity = ssri.fromData(data, { algorithms: ['sha512'] }).toString()
  await cacache.put(cachePath, 'test:corrupt', data, { integrity, algorithms: ['sha512'] })
  const { localCids, blockstore } = localCidsOf(dir)
  // built as `serve` prepares it: no write left under way when the test removes the cache
  const root = await localCids.prepare(integrity, true)
  const links = dagPb.decode(await bytesOf(blockstore.get(root!))).Links
  // flip a byte of the second leaf in the cached tarball
  const file = await open(contentPath(cachePath, integrity), 'r+')
  await file.write(Buffer.from([data[MiB + 7]! ^ 0xff]), 0, 1, MiB + 7)
  await file.close()
  await assert.rejects(bytesOf(blockstore.get(links[1]!.Hash)), /no block/)
  assert.ok((await bytesOf(blockstore.get(links[0]!.Hash))).equals(data.subarray(0, MiB)), 'the intact leaf is still served')
})

test('settled waits for the writes of a DAG built for an answer, which resolves before them', async () => {
  const dir = await tempDir(cleanup, 'local-cids')
  const cachePath = join(dir, '_cacache')
  const data = randomBytes(3 * MiB)
  const integrity = ssri.fromData(data, { algorithms: ['sha512'] }).toString()
  await cacache.put(cachePath, 'test:settled', data, { integrity, algorithms: ['sha512'] })
  const { localCids } = localCidsOf(dir)
  // an answer's build: the root as soon as it is known, its root block and index entry written after
  const root = await localCids.lookup(integrity)
  assert.ok(root !== undefined)
  await localCids.settled()
  // what stop (which waits for settled) leaves behind is complete: nothing is written after it
  assert.ok((await createCidIndex(join(dir, 'cids')).get(integrity))?.equals(root), 'the root is indexed')
  assert.ok(Object.keys(await cacache.ls(cachePath)).includes(`ipfs-npm:block:${root}`), 'the root block is written')
})
