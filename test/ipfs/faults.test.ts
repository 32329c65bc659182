import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import cacache from 'cacache'
import ssri from 'ssri'
import { createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { importTarball, rawCidFromIntegrity } from '../../src/ipfs/cid.ts'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { createIpfsNode, type IpfsNode } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { LOOPBACK, handshakeProxy, npmCiCache, putTarball, runCleanup, spawnPeer, startNode, tempDir, waitForPeers, type NodeProxy } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
const PEER_TIMEOUT = 1000
/**
 * A wait bounded by the peer timeout: a few of them at most, whatever the machine's load (a hang
 * would be minutes), so the bound says "bounded", not "fast".
 */
const BOUNDED_WAIT = PEER_TIMEOUT * 8
/**
 * The silence a fetch allows where what arrives, or is checked and refused, is the point and not
 * the wait: a fresh peer's first answer waits for one read of its cache index, past 1 s under load
 * (then the liar was never checked nor dropped, and a swarm member seemed to have nothing).
 */
const ARRIVAL_PEER_TIMEOUT = 10_000
let dir: string
let cacheA: string
let refs: TarballRef[]

before(async () => {
  dir = await tempDir(cleanup)
  ;({ cacheDir: cacheA, refs } = await npmCiCache(dir))
})
after(async () => runCleanup(cleanup))

async function connectedTo (cacheDir: string, addresses: string[], options = {}): Promise<IpfsNode> {
  const node = await startNode(cleanup, cacheDir, { peers: addresses, peerTimeout: PEER_TIMEOUT, ...options })
  await waitForPeers(node, addresses.length)
  return node
}

/**
 * The options of a swarm of its own, for the liars: an ipfs-npm node outside a swarm names and
 * serves only content its cache index shows came from a public registry, which a DAG made up by a
 * test is not. Inside a swarm it serves all it holds, lies included.
 */
async function liarsSwarm (name: string): Promise<{ swarmKey: string }> {
  const swarmKey = join(dir, `${name}.key`)
  await writeFile(swarmKey, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`)
  return { swarmKey }
}

function randomTarball (name: string, size: number): { ref: TarballRef, data: Buffer } {
  const data = randomBytes(size)
  return { ref: { name, version: '1.0.0', integrity: ssri.fromData(data, { algorithms: ['sha512'] }).toString() }, data }
}

/** Every block and index entry we ever wrote into a cache (tarballs are the resolver's to write). */
async function ourEntries (cacheDir: string): Promise<string[]> {
  const entries = await cacache.ls(join(cacheDir, '_cacache')).catch(() => ({}))
  return Object.keys(entries).filter((key) => key.startsWith('ipfs-npm:'))
}

test('no peer at all: undefined at once, without waiting for peers', async () => {
  // a peer timeout no test would sit out: what returns before it did not wait for it
  const lonely = await startNode(cleanup, join(dir, 'lonely'), { peerTimeout: 60_000 })
  const start = performance.now()
  assert.equal(await lonely.peers.fetch(refs[0]!), undefined)
  assert.ok(performance.now() - start < 60_000 / 4, `took ${performance.now() - start} ms`)
})

test('a peer that has nothing: every fetch gives up quickly (it says so), well within the bound', async () => {
  const empty = await startNode(cleanup, join(dir, 'empty'))
  // the peer's "absent" ends each fetch, not the peer timeout, which is set long here to tell the two apart
  const b = await connectedTo(join(dir, 'b-empty'), [empty.info().addresses[0]!], { peerTimeout: 60_000 })
  const start = performance.now()
  const results = await Promise.all(refs.slice(0, 20).map(async (ref) => b.peers.fetch(ref)))
  const ms = performance.now() - start
  assert.deepEqual(results, results.map(() => undefined))
  assert.ok(ms < 60_000 / 4, `took ${ms} ms`)
})

test('a tampered cache file is neither served nor cached; the fetch ends within the bound', async () => {
  const tamperedCache = join(dir, 'tampered')
  const victim = randomTarball('victim', 50_000)
  await putTarball(tamperedCache, victim.ref, victim.data)
  const info = await cacache.get.hasContent(join(tamperedCache, '_cacache'), victim.ref.integrity)
  assert.ok(info !== false)
  const file = join(tamperedCache, '_cacache', 'content-v2', 'sha512', ...(() => {
    const hex = Buffer.from(ssri.parse(victim.ref.integrity).sha512![0]!.digest, 'base64').toString('hex')
    return [hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)]
  })())
  const bytes = await readFile(file)
  bytes[100] = bytes[100]! ^ 0xff
  await writeFile(file, bytes)
  const seeder = await startNode(cleanup, tamperedCache)
  const bCache = join(dir, 'b-tampered')
  const b = await connectedTo(bCache, [seeder.info().addresses[0]!])
  const start = performance.now()
  assert.equal(await b.peers.fetch(victim.ref), undefined)
  const ms = performance.now() - start
  assert.ok(ms < BOUNDED_WAIT, `took ${ms} ms`)
  assert.equal(seeder.info().served.blocks, 0, 'the corrupted block was not served')
  assert.deepEqual(await ourEntries(bCache), [])
})

test('a peer that answers the CID protocol with a wrong CID is dropped; the honest peer delivers', async () => {
  const real = randomTarball('real-big', 3 * 1024 * 1024)
  const decoy = randomTarball('decoy-big', 3 * 1024 * 1024)
  const honestCache = join(dir, 'honest')
  await putTarball(honestCache, real.ref, real.data)
  // the liar holds another big tarball's DAG and claims it is `real`
  const liarCache = join(dir, 'liar')
  const decoyRoot = await importTarball([decoy.data], createCacheBlockstore({ cachePath: join(liarCache, '_cacache') }))
  await createCidIndex(join(liarCache, '_ipfs-npm', 'cids')).set(real.ref.integrity, decoyRoot)
  const swarm = await liarsSwarm('dag-liars')
  const honest = await startNode(cleanup, honestCache, swarm)
  const liar = await startNode(cleanup, liarCache, swarm)

  // with only the liar: nothing verifiable, the liar is dropped and nothing is cached
  const aloneCache = join(dir, 'b-liar-only')
  const alone = await connectedTo(aloneCache, [liar.info().addresses[0]!], { ...swarm, peerTimeout: ARRIVAL_PEER_TIMEOUT })
  assert.equal(await alone.peers.fetch(real.ref), undefined)
  assert.deepEqual(alone.info().peers, [], 'hung up on the liar')
  assert.deepEqual(await ourEntries(aloneCache), [], 'no block of the wrong DAG was stored')
  assert.equal(await createCidIndex(join(aloneCache, '_ipfs-npm', 'cids')).get(real.ref.integrity), undefined)

  // with both: the fetch succeeds from the honest peer (whichever DAG arrives first is checked:
  // the liar is dropped if its DAG was checked, else the fetch simply ended before it)
  const b = await connectedTo(join(dir, 'b-liar'), [honest.info().addresses[0]!, liar.info().addresses[0]!], { ...swarm, peerTimeout: ARRIVAL_PEER_TIMEOUT })
  const data = await b.peers.fetch(real.ref)
  assert.ok(data !== undefined && Buffer.from(data).equals(real.data))
  assert.ok(b.info().peers.includes(honest.info().peerId), 'the honest peer stays')
  const root = await createCidIndex(join(dir, 'b-liar', '_ipfs-npm', 'cids')).get(real.ref.integrity)
  assert.ok(root !== undefined && !root.equals(decoyRoot), 'only the verified mapping was indexed')
})

test('a sha1 lie (raw CID of other bytes) is caught by the sha1 check', async () => {
  const other = randomTarball('other', 10_000)
  const wanted = randomBytes(10_000)
  const wantedRef = { name: 'wanted', version: '1.0.0', integrity: ssri.fromData(wanted, { algorithms: ['sha1'] }).toString() }
  const liarCache = join(dir, 'sha1-liar')
  await putTarball(liarCache, other.ref, other.data)
  await createCidIndex(join(liarCache, '_ipfs-npm', 'cids')).set(wantedRef.integrity, rawCidFromIntegrity(other.ref.integrity)!)
  const swarm = await liarsSwarm('sha1-liars')
  const liar = await startNode(cleanup, liarCache, swarm)
  // the point is the check and the drop: a liar slow to answer on a loaded machine must not end the fetch first
  const b = await connectedTo(join(dir, 'b-sha1-liar'), [liar.info().addresses[0]!], { ...swarm, peerTimeout: ARRIVAL_PEER_TIMEOUT })
  assert.equal(await b.peers.fetch(wantedRef), undefined)
  assert.deepEqual(b.info().peers, [])
})

/**
 * Has a peer at `address` answer its first asker, who is gone again once `ref` arrived. A node's
 * first answer ever waits for its sharing verdicts, built from one read of its cache index (0.2-0.5 s
 * at load 8 here, more under CI's), beyond the 1 s of silence these tests allow their fetcher: the
 * tests that are about something else (a handshake, a peer dying mid-transfer) start past it.
 */
async function answerOnce (address: string, ref: TarballRef, name: string): Promise<void> {
  const asker = await startNode(cleanup, join(dir, `${name}-warm-up`), { peers: [address], peerTimeout: 60_000 })
  await waitForPeers(asker, 1)
  assert.ok(await asker.peers.fetch(ref) !== undefined, 'the peer answered its first asker')
  await asker.stop()
}

/** A seeder on cacheA past its first answer (answerOnce). */
async function answeredOnce (name: string): Promise<IpfsNode> {
  const seeder = await startNode(cleanup, cacheA)
  await answerOnce(seeder.info().addresses[0]!, refs.at(-1)!, name)
  return seeder
}

test('a peer that dies mid-transfer costs a bounded wait and leaves nothing behind', async () => {
  const seederCache = join(dir, 'dying')
  const huge = randomTarball('huge', 48 * 1024 * 1024)
  await putTarball(seederCache, huge.ref, huge.data)
  // a seeder that served it before has its DAG built already (building one takes a while under load)
  const root = await importTarball([huge.data], createCacheBlockstore({ cachePath: join(seederCache, '_cacache') }))
  await createCidIndex(join(seederCache, '_ipfs-npm', 'cids')).set(huge.ref.integrity, root)
  // and a small one, for its first answer: else B may give up before the transfer starts (seen at load 27)
  const small = randomTarball('small', 2000)
  await putTarball(seederCache, small.ref, small.data)
  const seeder = spawnPeer(cleanup, { cacheDir: seederCache, options: LOOPBACK, reportServed: true })
  const { info } = await seeder.next<{ info: { addresses: string[] } }>((line) => line.info !== undefined)
  await answerOnce(info.addresses[0]!, small.ref, 'dying')
  const bCache = join(dir, 'b-dying')
  const b = await connectedTo(bCache, [info.addresses[0]!])
  const fetching = b.peers.fetch(huge.ref)
  // the warm-up's small tarball was one block: past the root means a leaf was sent too
  await seeder.next((line) => line.served?.blocks > 2)
  seeder.child.kill('SIGKILL')
  const killedAt = performance.now()
  assert.equal(await fetching, undefined)
  const ms = performance.now() - killedAt
  assert.ok(ms < BOUNDED_WAIT, `gave up ${ms} ms after the peer died`)
  assert.deepEqual(await ourEntries(bCache), [], 'no partial DAG was stored')
})

/** `node` through a proxy that holds the handshake's first bytes for 2.5 × PEER_TIMEOUT. */
const slowHandshake = async (node: IpfsNode): Promise<NodeProxy> => handshakeProxy(cleanup, node, PEER_TIMEOUT * 2.5)

test('a named peer whose handshake outlasts the peer timeout (a loaded machine) is still used', async () => {
  const seeder = await answeredOnce('slow-handshake')
  const { via, peerId } = await slowHandshake(seeder)
  const b = await startNode(cleanup, join(dir, 'b-slow-handshake'), { peers: [via], peerTimeout: PEER_TIMEOUT })
  const data = await b.peers.fetch(refs[0]!)
  assert.ok(data !== undefined, 'the peer was given up before its handshake ended')
  assert.deepEqual(b.info().peers, [peerId])
})

test('fetches start with the first peer connected, not after a named peer whose handshake is under way', async () => {
  const seeder = await answeredOnce('handshake-held')
  const slow = await startNode(cleanup, join(dir, 'c-handshake-held'))
  // takes the connection at once, as a live host does, and swallows the handshake: the dial stays
  // under way until libp2p gives it up (and closes the socket, which this sees as it reads)
  const held: Array<{ client: Socket, closed: boolean }> = []
  const proxy = createServer((client) => {
    const hold = { client, closed: false }
    client.on('data', () => {})
    client.on('close', () => { hold.closed = true })
    client.on('error', () => {})
    held.push(hold)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  cleanup.push(async () => {
    for (const { client } of held) client.destroy()
    proxy.close()
  })
  const via = `/ip4/127.0.0.1/tcp/${(proxy.address() as AddressInfo).port}/p2p/${slow.info().peerId}`
  const b = await startNode(cleanup, join(dir, 'b-first-peer'), { peers: [seeder.info().addresses[0]!, via], peerTimeout: PEER_TIMEOUT })
  const data = await b.peers.fetch(refs[0]!)
  assert.ok(data !== undefined, 'the first peer did not deliver')
  // before, every fetch waited for all named peers' dials: this one ended only when libp2p gave up
  assert.ok(held.length > 0 && held.every((hold) => !hold.closed), 'the fetch waited for the held handshake to be given up')
})

test('a first peer that has nothing ends no fetch while a named peer is still in its handshake', async () => {
  const empty = await startNode(cleanup, join(dir, 'c-has-nothing'))
  const seeder = await answeredOnce('first-has-nothing')
  // the seeder's handshake outlasts the silence bound: the empty peer says DONT_HAVE and "absent" long before
  const { via } = await slowHandshake(seeder)
  const b = await startNode(cleanup, join(dir, 'b-first-has-nothing'), { peers: [empty.info().addresses[0]!, via], peerTimeout: PEER_TIMEOUT })
  const data = await b.peers.fetch(refs[0]!)
  assert.ok(data !== undefined, 'the fetch gave up on the first peer\'s word, or on silence while the seeder was still being dialled')
})

test('private network: only nodes with the same swarm key connect; a malformed key is a one-line error', async () => {
  const key = (hex: string): string => `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`
  const keyFile = join(dir, 'swarm.key')
  const otherKeyFile = join(dir, 'other.key')
  await writeFile(keyFile, key(randomBytes(32).toString('hex')))
  await writeFile(otherKeyFile, key(randomBytes(32).toString('hex')))
  const member = await startNode(cleanup, cacheA, { swarmKey: keyFile })
  const address = member.info().addresses[0]!

  const friend = await connectedTo(join(dir, 'friend'), [address], { swarmKey: keyFile, peerTimeout: ARRIVAL_PEER_TIMEOUT })
  assert.ok(await friend.peers.fetch(refs[0]!) !== undefined, 'same key: fetched')

  for (const [name, swarmKey] of [['outsider', undefined], ['stranger', otherKeyFile]] as const) {
    const node = await startNode(cleanup, join(dir, name), { peers: [address], peerTimeout: PEER_TIMEOUT, ...(swarmKey === undefined ? {} : { swarmKey }) })
    assert.equal(await node.peers.fetch(refs[0]!), undefined, `${name}: nothing`)
    assert.deepEqual(node.info().peers, [], `${name}: not connected`)
  }

  const bad = join(dir, 'bad.key')
  await writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n')
  await assert.rejects(createIpfsNode({ cacheDir: join(dir, 'bad'), options: { ...LOOPBACK, swarmKey: bad } }), (err: Error) => {
    assert.equal((err as Error & { code?: string }).code, 'ESWARMKEY')
    assert.match(err.message, /^malformed swarm key .*bad\.key: /)
    assert.ok(!err.message.includes('\n'))
    return true
  })
})

test('two processes on one cache: the second gets an ephemeral peer id; the persisted one comes back', async () => {
  const shared = join(dir, 'shared')
  const first = await createIpfsNode({ cacheDir: shared, options: LOOPBACK })
  const second = await createIpfsNode({ cacheDir: shared, options: LOOPBACK })
  try {
    assert.notEqual(first.info().peerId, second.info().peerId)
    // and they can talk to each other
    const third = await connectedTo(join(dir, 'third'), [first.info().addresses[0]!, second.info().addresses[0]!])
    assert.equal(third.info().peers.length, 2)
  } finally {
    await second.stop()
    await first.stop()
  }
  const again = await createIpfsNode({ cacheDir: shared, options: LOOPBACK })
  assert.equal(again.info().peerId, first.info().peerId)
  await again.stop()
})

test('stop leaves nothing running: the process exits by itself right after', async () => {
  const lonely = spawnPeer(cleanup, { cacheDir: join(dir, 'exit'), options: { ...LOOPBACK, mdns: true, peers: ['/ip4/127.0.0.1/tcp/1'] }, fetch: refs.slice(0, 3) })
  const exited = new Promise((resolve) => lonely.child.once('exit', resolve))
  // its start, fetches and stop take seconds on a loaded machine: the point is what is left after
  const { stopped } = await lonely.next<{ stopped: string[] }>((line) => line.stopped !== undefined, 120_000)
  // Node itself says what still holds the event loop: no socket, server or mDNS socket is left
  // (only libp2p's bounded close timers may still run, and stdout's own pipe)
  assert.deepEqual(stopped.filter((resource) => /Wrap$/.test(resource) && resource !== 'PipeWrap' && resource !== 'TTYWrap'), [])
  // and nothing repeats: a leaked interval would keep it alive for good, a bounded timer not for long
  const deadline = setTimeout(() => lonely.child.kill('SIGKILL'), 30_000)
  assert.equal(await exited, 0, 'exited by itself')
  clearTimeout(deadline)
})
