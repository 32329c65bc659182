import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import cacache from 'cacache'
import ssri from 'ssri'
import { createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { importTarball } from '../../src/ipfs/cid.ts'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { isVerified, matchesIntegrity } from '../../src/integrity.ts'
import { createIpfsNode, type IpfsNode } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { LOOPBACK, npmCiCache, packRandomPackage, putTarball, runCleanup, startNode, tempDir, waitForPeer, waitForPeers } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let dir: string
let cacheA: string
let refs: TarballRef[]
let big: { ref: TarballRef, data: Buffer }
let sha1Only: { ref: TarballRef, data: Buffer }
let a: IpfsNode

before(async () => {
  dir = await tempDir(cleanup)
  ;({ cacheDir: cacheA, refs } = await npmCiCache(dir))
  big = await packRandomPackage(dir, 'big-random', 3 * 1024 * 1024 + 12345)
  await putTarball(cacheA, big.ref, big.data)
  const small = await packRandomPackage(dir, 'old-lock', 20_000)
  // an old lockfile's entry: npm caches it under its only algorithm, sha1
  sha1Only = { ref: { ...small.ref, integrity: ssri.fromData(small.data, { algorithms: ['sha1'] }).toString() }, data: small.data }
  await putTarball(cacheA, sha1Only.ref, sha1Only.data)
  a = await startNode(cleanup, cacheA)
})
after(async () => runCleanup(cleanup))

/**
 * The silence a fetcher that should get its bytes here allows: what arrives is the point, not how
 * soon. Beside two busy loops (load 13-17) the default 2 s ran out in each of 3 runs of this file
 * and in a full suite run: a fresh seeder's first answer waits for one read of its cache index (64
 * wants in flight gave up at once, twice), and by the last test one process holds some fifteen
 * nodes and their DHT traffic (A answered C 2.3 s after C's first want). A short bound stays where
 * the bytes cannot come.
 */
const FETCHER_PEER_TIMEOUT = 10_000

async function connectedTo (cacheDir: string, ...peers: IpfsNode[]): Promise<IpfsNode> {
  const node = await startNode(cleanup, cacheDir, { peers: peers.map((peer) => peer.info().addresses[0]!), peerTimeout: FETCHER_PEER_TIMEOUT })
  await waitForPeers(node, peers.length)
  return node
}

test('B fetches every tarball of the fixture from A, verified, many wants in flight', async () => {
  assert.ok(big.data.byteLength > 1024 * 1024, 'the big tarball is over 1 MiB')
  const b = await connectedTo(join(dir, 'cache-b'), a)
  const servedBefore = a.info().served.blocks
  const start = performance.now()
  const results = await Promise.all(refs.map(async (ref) => b.peers.fetch(ref)))
  const ms = performance.now() - start
  const bytes = results.reduce((sum, data) => sum + (data?.byteLength ?? 0), 0)
  results.forEach((data, i) => {
    assert.ok(data !== undefined, `${refs[i]!.name} fetched`)
    assert.ok(matchesIntegrity(data, refs[i]!.integrity), `${refs[i]!.name} verified`)
    assert.ok(isVerified(data, refs[i]!.integrity), `${refs[i]!.name} recorded as verified: the cache does not hash it again`)
  })
  assert.ok(a.info().served.blocks - servedBefore >= refs.length, 'A counted the blocks it served')
  assert.ok(a.info().served.bytes >= bytes)
  console.log(`# small fixture A→B: ${refs.length} tarballs, ${(bytes / 1e6).toFixed(2)} MB in ${ms.toFixed(0)} ms = ${(refs.length / ms * 1000).toFixed(0)} tarballs/s, ${(bytes / 1e3 / ms).toFixed(1)} MB/s`)
})

test('a tarball over 1 MiB travels as a UnixFS DAG, and the fetcher can serve it on (three nodes)', async () => {
  // a seeder of its own, stopped before C asks: C connects only to B, but through the DHT it
  // could find a still-running seeder and take the blocks from it instead
  const seederCache = join(dir, 'cache-big-seeder')
  await putTarball(seederCache, big.ref, big.data)
  const seeder = await startNode(cleanup, seederCache)
  const b = await connectedTo(join(dir, 'cache-b2'), seeder)
  const data = await b.peers.fetch(big.ref)
  assert.ok(data !== undefined && Buffer.from(data).equals(big.data), 'B got the big tarball')
  assert.ok(isVerified(data, big.ref.integrity), 'recorded as verified')
  // both sides recorded the verified mapping; the root is a dag-pb node, not the raw block
  const root = await createCidIndex(join(dir, 'cache-b2', '_ipfs-npm', 'cids')).get(big.ref.integrity)
  assert.ok(root !== undefined && root.code === 0x70, `B indexed a UnixFS root (${root})`)
  assert.ok((await createCidIndex(join(seederCache, '_ipfs-npm', 'cids')).get(big.ref.integrity))?.equals(root))
  await seeder.stop()
  // C only knows B, which holds the DAG blocks (not the tarball: that is the resolver's job)
  const c = await connectedTo(join(dir, 'cache-c'), b)
  const again = await c.peers.fetch(big.ref)
  assert.ok(again !== undefined && Buffer.from(again).equals(big.data), 'C got it from B')
  assert.ok(b.info().served.blocks >= 4, 'B served the root and the leaves')
})

test('an install\'s node (serving nothing) keeps no DAG blocks; the cached tarball is served once it serves', async () => {
  const cacheDir = join(dir, 'cache-install')
  const install = await createIpfsNode({ cacheDir, options: { ...LOOPBACK, peers: [a.info().addresses[0]!], peerTimeout: FETCHER_PEER_TIMEOUT }, serve: false })
  cleanup.push(async () => install.stop())
  await waitForPeers(install, 1)
  const [data, ...small] = await Promise.all([big.ref, ...refs].map(async (ref) => install.peers.fetch(ref)))
  assert.ok(data !== undefined && Buffer.from(data).equals(big.data), 'the big tarball arrived')
  // no block writes, no root to announce later that this cache could not back
  const blocks = (await cacache.ls(join(cacheDir, '_cacache'))) as Record<string, unknown>
  assert.deepEqual(Object.keys(blocks).filter((key) => key.startsWith('ipfs-npm:block:')), [])
  assert.equal(await createCidIndex(join(cacheDir, '_ipfs-npm', 'cids')).get(big.ref.integrity), undefined)
  // each tarball owns its bytes: a view into a bitswap message would be cloned whole to a worker
  for (const bytes of [data, ...small]) assert.ok(bytes !== undefined && bytes.byteLength === bytes.buffer.byteLength)
  // as the resolver would: the tarball in npm's cache; then `serve` builds the DAG when asked
  await putTarball(cacheDir, big.ref, big.data)
  await install.stop()
  const served = await startNode(cleanup, cacheDir)
  const c = await connectedTo(join(dir, 'cache-install-c'), served)
  const again = await c.peers.fetch(big.ref)
  assert.ok(again !== undefined && Buffer.from(again).equals(big.data), 'C got it from the serving node')
})

test('a sha1-only integrity is found through the CID protocol and checked against the sha1', async () => {
  const b = await connectedTo(join(dir, 'cache-b3'), a)
  const data = await b.peers.fetch(sha1Only.ref)
  assert.ok(data !== undefined && Buffer.from(data).equals(sha1Only.data))
  assert.ok(matchesIntegrity(data, sha1Only.ref.integrity))
  assert.ok(isVerified(data, sha1Only.ref.integrity), 'recorded as verified against the sha1')
})

test('C fetches from two peers at once; each tarball arrives once, verified', async () => {
  const bCache = join(dir, 'cache-b4')
  // B holds the second half of the fixture, as if its resolver had cached them
  for (const ref of refs.slice(refs.length / 2)) {
    await putTarball(bCache, ref, await cacache.get.byDigest(join(cacheA, '_cacache'), ref.integrity))
  }
  const b = await startNode(cleanup, bCache)
  const c = await connectedTo(join(dir, 'cache-c4'), a, b)
  const results = await Promise.all(refs.map(async (ref) => c.peers.fetch(ref)))
  assert.equal(results.filter((data, i) => data !== undefined && matchesIntegrity(data, refs[i]!.integrity)).length, refs.length)
})

test('a large set: 400 tarballs of 4–200 KB', async () => {
  const setCache = join(dir, 'cache-set')
  const set: TarballRef[] = []
  for (let i = 0; i < 400; i++) {
    const data = randomBytes(4096 + Math.floor(Math.random() * 196_000))
    const ref = { name: `set-${i}`, version: '1.0.0', integrity: ssri.fromData(data, { algorithms: ['sha512'] }).toString() }
    await putTarball(setCache, ref, data)
    set.push(ref)
  }
  const seeder = await startNode(cleanup, setCache)
  const b = await connectedTo(join(dir, 'cache-set-b'), seeder)
  const start = performance.now()
  const results = await Promise.all(set.map(async (ref) => b.peers.fetch(ref)))
  const ms = performance.now() - start
  const bytes = results.reduce((sum, data) => sum + (data?.byteLength ?? 0), 0)
  assert.equal(results.filter((data) => data !== undefined).length, set.length, 'every tarball arrived')
  console.log(`# large set A→B: ${set.length} tarballs, ${(bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms = ${(set.length / ms * 1000).toFixed(0)} tarballs/s, ${(bytes / 1e3 / ms).toFixed(1)} MB/s`)
})

test('a packument hint (dist.cid) is used when right and harmless when wrong', async () => {
  // a seeder holding only the big tarball's DAG blocks: no tarball and no index entry, so it cannot
  // answer the integrity→CID question; only a hint leads an asker to the root. The blocks are
  // stored shared (public by construction, as a signed index's are): outside a swarm a node
  // serves no block that nothing in its cache vouches for
  const seederCache = join(dir, 'cache-hint-seeder')
  const seederStore = createCacheBlockstore({ cachePath: join(seederCache, '_cacache') })
  const root = await importTarball([big.data], { put: async (cid, bytes) => seederStore.putShared(cid, bytes) })
  const seeder = await startNode(cleanup, seederCache)
  // a generous wait where the bytes should come (a loaded machine is slow to move 3 MiB), a short one where they cannot
  const fetchWith = async (name: string, hint: string | undefined, ...peers: IpfsNode[]): Promise<boolean> => {
    const b = await startNode(cleanup, join(dir, `cache-hint-${name}`), { peers: peers.map((peer) => peer.info().addresses[0]!), peerTimeout: name === 'none' ? 1000 : FETCHER_PEER_TIMEOUT })
    await waitForPeers(b, peers.length)
    if (hint !== undefined) b.peers.hint?.(big.ref.integrity, hint)
    const data = await b.peers.fetch(big.ref)
    assert.ok(data === undefined || Buffer.from(data).equals(big.data), `${name}: nothing but the right bytes`)
    return data !== undefined
  }
  assert.equal(await fetchWith('none', undefined, seeder), false, 'without a hint the seeder\'s blocks cannot be found')
  assert.equal(await fetchWith('right', root.toString(), seeder), true, 'the right hint finds them')
  // a wrong or malformed hint costs nothing: A, which has the tarball, still answers
  assert.equal(await fetchWith('wrong', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', seeder, a), true, 'wrong hint')
  assert.equal(await fetchWith('malformed', 'not a cid', seeder, a), true, 'malformed hint')
})

test('a node that cannot listen is a one-line error', async () => {
  const port = a.info().addresses[0]!.split('/')[4]
  await assert.rejects(startNode(cleanup, join(dir, 'cache-port'), { listen: [`/ip4/127.0.0.1/tcp/${port}`] }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'EIPFSNODE', 'not a usage error: the options were fine')
    assert.match(err.message, /^cannot start the IPFS node: /)
    assert.ok(!err.message.includes('\n'))
    return true
  })
})

test('the LAN DHT finds a peer two hops away (C knows only B; A has the tarball)', async () => {
  const b = await connectedTo(join(dir, 'cache-hop-b'), a)
  const c = await connectedTo(join(dir, 'cache-hop-c'), b)
  // the DHT also leads C to the nodes of earlier tests, which may connect before A does
  await waitForPeer(c, a.info().peerId, 15_000)
  const data = await c.peers.fetch(refs[1]!)
  assert.ok(data !== undefined && matchesIntegrity(data, refs[1]!.integrity))
})
