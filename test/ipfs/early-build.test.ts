/**
 * A peer wants a large tarball's raw CID first (the fetcher's CID question waits its head start,
 * and a plain IPFS node may only ever want that): the serving node starts building the tarball's
 * DAG then, not on the question, so its answer does not wait seconds for the build under load.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import ssri from 'ssri'
import { rawCidFromIntegrity } from '../../src/ipfs/cid.ts'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { putTarball, runCleanup, startNode, tempDir, waitForPeers } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let dir: string

before(async () => { dir = await tempDir(cleanup) })
after(async () => runCleanup(cleanup))

test('a want for a large tarball\'s raw CID starts its DAG build, with no CID question asked', async () => {
  const data = randomBytes(3 * 1024 * 1024)
  const ref = { name: 'big-wanted', version: '1.0.0', integrity: ssri.fromData(data, { algorithms: ['sha512'] }).toString() }
  const seederCache = join(dir, 'seeder')
  await putTarball(seederCache, ref, data)
  const seeder = await startNode(cleanup, seederCache)
  const asker = await startNode(cleanup, join(dir, 'asker'), { peers: [seeder.info().addresses[0]!], peerTimeout: 2000 })
  await waitForPeers(asker, 1, 30_000)
  // by CID alone (install <cid>): only the raw want goes out, which the seeder cannot send whole
  await assert.rejects(asker.content(rawCidFromIntegrity(ref.integrity)!.toString()), { code: 'E404' })
  // the build writes the root into the seeder's CID index once every block is in place
  const index = createCidIndex(join(seederCache, '_ipfs-npm', 'cids'))
  const deadline = Date.now() + 60_000
  let root = await index.get(ref.integrity)
  while (root === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    root = await index.get(ref.integrity)
  }
  assert.ok(root !== undefined, 'the seeder built the DAG on the raw want')
})
