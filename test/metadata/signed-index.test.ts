/**
 * Signed indexes: published by one real node, resolved and read by another over loopback; and
 * every refusal (another key, a roll-back, an expired record, a block that is not its CID) with
 * real keys and records, the network replaced by what a hostile peer would hand over.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { IpfsNode } from '../../src/ipfs/index.ts'
import { encodeBlock, type Block } from '../../src/metadata/index-format.ts'
import { indexNameOf } from '../../src/metadata/index-key.ts'
import { createIndexRecord } from '../../src/metadata/index-records.ts'
import { createSignedIndexes, type IndexBlocks, type Manifest } from '../../src/metadata/signed-index.ts'
import { runCleanup, startNode, tempDir, waitForPeers } from '../ipfs/helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let dir: string
after(async () => runCleanup(cleanup))
before(async () => {
  dir = await tempDir(cleanup, 'ipfs-npm-index-')
})

const manifest = (name: string, version: string, extra: Record<string, unknown> = {}): Manifest => ({
  name,
  version,
  dependencies: {},
  dist: { integrity: `sha512-${Buffer.alloc(64, version.length).toString('base64')}`, tarball: `https://registry.invalid/${name}/-/${name}-${version}.tgz` },
  ...extra,
})

test('A publishes an index; B resolves it over loopback and reads packuments checked block by block', async () => {
  const a = await startNode(cleanup, join(dir, 'cache-a'))
  const index = await a.indexes.open()
  await index.addVersion(manifest('@myco/util', '1.0.0', { dist: { ...manifest('@myco/util', '1.0.0').dist, cid: 'bafkreiexample' } }))
  await index.addPackument({ name: 'left', 'dist-tags': { latest: '2.0.0' }, versions: { '1.0.0': manifest('left', '1.0.0'), '2.0.0': manifest('left', '2.0.0') } })
  await assert.rejects(index.addVersion(manifest('@myco/util', '1.0.0')), { code: 'EPUBLISHCONFLICT' })
  const first = await index.publish()
  assert.equal(first.sequence, 0n)
  assert.match(index.name, /^k51/)

  const b: IpfsNode = await startNode(cleanup, join(dir, 'cache-b'), { peers: [a.info().addresses[0]!] })
  await waitForPeers(b, 1)
  const resolved = await b.indexes.resolve(`/ipns/${index.name}`)
  assert.equal(resolved.root.toString(), first.root.toString())
  const util = await b.indexes.packument(index.name, '@myco/util')
  assert.deepEqual(util?.['dist-tags'], { latest: '1.0.0' })
  assert.equal(util?.versions['1.0.0']?.dist.cid, 'bafkreiexample')
  assert.deepEqual(Object.keys((await b.indexes.packument(index.name, 'left'))?.versions ?? {}), ['1.0.0', '2.0.0'])
  assert.equal(await b.indexes.packument(index.name, 'absent'), undefined)

  // the next version, a new record: announced over pubsub, B drops the view it had at once
  await index.addVersion(manifest('@myco/util', '1.1.0'), { tags: ['latest'] })
  const second = await index.publish()
  assert.equal(second.sequence, 1n)
  const deadline = Date.now() + 10_000
  while ((await b.indexes.resolve(index.name)).sequence !== 1n) {
    assert.ok(Date.now() < deadline, 'B heard of sequence 1')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // and a fresh process sees it too
  const b2 = await startNode(cleanup, join(dir, 'cache-b2'), { peers: [a.info().addresses[0]!] })
  await waitForPeers(b2, 1)
  assert.equal((await b2.indexes.packument(index.name, '@myco/util'))?.['dist-tags'].latest, '1.1.0')
})

/** Signed indexes whose network hands over exactly `offered` records and `served` blocks. */
function hostile (stateDir: string, offered: () => Uint8Array[], served: Map<string, Uint8Array>) {
  const kept: string[] = []
  const blocks: IndexBlocks = {
    async get (cid) {
      const bytes = served.get(cid.toString())
      if (bytes === undefined) throw new Error('no such block')
      return bytes
    },
    async put (block: Block) {
      kept.push(block.cid.toString())
    },
  }
  const indexes = createSignedIndexes({ stateDir, blocks, records: { async publish () {}, serve () {}, onAnnounce () {}, async find () { return offered() } } }, { timeout: 500 })
  return { indexes, kept }
}

test('refused: a record signed by another key, an older sequence, an expired record, a block that is not its CID', async () => {
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const name = indexNameOf(key)
  const root = encodeBlock({ 'ipfs-npm-index': 1, packages: {} })
  const served = new Map([[root.cid.toString(), root.bytes]])

  // another key's record under this name
  const forgedDir = join(dir, 'forged')
  await mkdir(forgedDir)
  const forged = await createIndexRecord(other, root.cid, 5n, 60_000, 1000)
  const { indexes: forgedView } = hostile(forgedDir, () => [forged], served)
  await assert.rejects(forgedView.resolve(name.name), { code: 'EINDEXRECORD', message: `index ${name.name}: record not signed by the index's key; refused` })
  assert.equal(existsSync(join(forgedDir, 'ipns', `${name.name}.record`)), false, 'nothing kept')

  // expired
  const expiredDir = join(dir, 'expired')
  const expired = await createIndexRecord(key, root.cid, 1n, 1, 1000)
  await new Promise((resolve) => setTimeout(resolve, 20))
  const { indexes: expiredView } = hostile(expiredDir, () => [expired], served)
  await assert.rejects(expiredView.resolve(name.name), { code: 'EINDEXRECORD', message: /^index k51\S+: the record \(sequence 1\) expired at \S+Z; its publisher must re-publish it$/ })

  // a roll-back: sequence 3 seen (it expires soon), then only sequence 2 on offer
  const rollbackDir = join(dir, 'rollback')
  let offer = [await createIndexRecord(key, root.cid, 3n, 300, 1000)]
  const { indexes: first } = hostile(rollbackDir, () => offer, served)
  assert.equal((await first.resolve(name.name)).sequence, 3n)
  await new Promise((resolve) => setTimeout(resolve, 400))
  offer = [await createIndexRecord(key, root.cid, 2n, 60_000, 1000)]
  const { indexes: later } = hostile(rollbackDir, () => offer, served)
  await assert.rejects(later.resolve(name.name), { code: 'EINDEXRECORD', message: `index ${name.name}: a peer offered sequence 2, older than sequence 3 already seen; refusing to roll back` })

  // a block whose bytes are not its CID's
  const lyingDir = join(dir, 'lying')
  const good = await createIndexRecord(key, root.cid, 1n, 60_000, 1000)
  const tampered = new Map([[root.cid.toString(), encodeBlock({ 'ipfs-npm-index': 1, packages: { evil: root.cid } }).bytes]])
  const { indexes: lying, kept } = hostile(lyingDir, () => [good], tampered)
  await assert.rejects(lying.packument(name.name, 'evil'), { code: 'EINDEXBLOCK', message: `index block ${root.cid}: the bytes received do not match the CID` })
  assert.deepEqual(kept, [], 'nothing cached')
})

test('two writers on one cache (a publish beside a serve): the later publish keeps what the other published', async () => {
  const node = await startNode(cleanup, join(dir, 'cache-writers'))
  const serving = await node.indexes.open()
  const publishing = await node.indexes.open()
  await publishing.addVersion(manifest('@myco/published', '1.0.0'))
  await publishing.publish()
  await serving.addPackument({ name: 'served', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': manifest('served', '1.0.0') } })
  const last = await serving.publish()
  assert.equal(last.sequence, 1n)
  assert.ok(await node.indexes.packument(serving.name, '@myco/published'), 'the other writer\'s package is still there')
  assert.ok(await node.indexes.packument(serving.name, 'served'))
})
