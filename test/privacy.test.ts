/**
 * Private packages stay private (issue 9). A token-protected registry serves `@fix/*`; plain npm
 * installs a project with the token, filling a cache the way it was filled before ipfs-npm
 * existed; `ipfs-npm serve` runs over that cache. A stranger (a plain libp2p node outside any
 * swarm key) is refused the private tarballs on every path — bitswap wants and presence answers,
 * the integrity → CID question, DHT provider records — and gets the public tarballs of the same
 * cache. Inside the swarm (same key) the private ones are served. An install outside the swarm
 * never names a private package to peers, and what it caches is classified the same way. serve's
 * loopback registry answers only the user running it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { rawCidFromIntegrity, rawCidOf } from '../src/ipfs/cid.ts'
import { createIpfsNode } from '../src/ipfs/index.ts'
import { createSharingPolicy } from '../src/sharing.ts'
import type { TarballRef } from '../src/types.ts'
import { parseOrigins } from './helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { startOutsider, type Outsider } from './helpers/outsider.ts'
import { assertOk, assertSameTree, createP2pWork, type P2pWork } from './helpers/p2p.ts'
import { runCommand } from './helpers/run-command.ts'

let registries: FixtureRegistries
let work: string
let userconfig: string
let p2p: P2pWork
/** The cache plain npm filled, with the token. */
let cacheA: string
let reference: string
let privateRefs: TarballRef[]
let publicRefs: TarballRef[]
let swarmKey: string
const strangers: Outsider[] = []
/** What the installs here wait for a peer: what they get from where is the point, not how fast on a loaded machine. */
const PEER_TIMEOUT = '10000'

async function lockRefs (dir: string): Promise<TarballRef[]> {
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, integrity?: string }> }
  return Object.entries(lock.packages).filter(([path]) => path !== '').map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ''), version: entry.version!, integrity: entry.integrity! }))
}

const raw = (ref: TarballRef): ReturnType<typeof rawCidFromIntegrity> & object => rawCidFromIntegrity(ref.integrity)!

async function stranger (init: { psk?: Uint8Array, recordDht?: boolean } = {}): Promise<Outsider> {
  const outsider = await startOutsider(init)
  strangers.push(outsider)
  return outsider
}

async function waitFor (done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Asserts what a stranger connected to `peer` gets: nothing private, every public tarball. */
async function assertStrangerView (outsider: Outsider, peer: PeerId): Promise<void> {
  for (const ref of privateRefs) assert.equal(await outsider.ask(peer, ref), 'absent', `${ref.name}: the CID question is answered "absent"`)
  for (const ref of publicRefs) assert.equal(String(await outsider.ask(peer, ref)), String(raw(ref)), `${ref.name}: answered with its raw CID`)
  const all = [...privateRefs, ...publicRefs].map(raw)
  const presences = await outsider.want(peer, all, 'have', 5000)
  const blocks = await outsider.want(peer, all, 'block', 5000)
  for (const ref of privateRefs) {
    assert.equal(presences.get(raw(ref).toString())?.presence, 'dont-have', `${ref.name}: bitswap says DONT_HAVE, as for a block it never had`)
    assert.equal(blocks.get(raw(ref).toString())?.block, undefined, `${ref.name}: no block over bitswap`)
  }
  for (const ref of publicRefs) {
    assert.equal(presences.get(raw(ref).toString())?.presence, 'have', `${ref.name}: bitswap says HAVE`)
    const block = blocks.get(raw(ref).toString())?.block
    assert.ok(block !== undefined && rawCidOf(block).equals(raw(ref)), `${ref.name}: the block over bitswap`)
  }
}

before(async () => {
  registries = await startFixtureRegistries()
  work = await mkdtemp(join(tmpdir(), 'ipfs-npm-privacy-'))
  userconfig = join(work, 'npmrc')
  await registries.writeUserconfig(userconfig)
  p2p = createP2pWork({ work, userconfig })
  cacheA = join(work, 'cache-a')
  reference = await p2p.npmReference('scoped', cacheA, 'plain')
  const refs = await lockRefs(reference)
  privateRefs = refs.filter((ref) => ref.name.startsWith('@fix/'))
  publicRefs = refs.filter((ref) => !ref.name.startsWith('@fix/'))
  assert.ok(privateRefs.length > 0 && publicRefs.length > 0)
  swarmKey = join(work, 'swarm.key')
  await writeFile(swarmKey, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`)
})

after(async () => {
  await Promise.all(strangers.map(async (outsider) => outsider.stop().catch(() => {})))
  await p2p.stop()
  await registries.stop()
  await rm(work, { recursive: true, force: true })
})

test('serve over a cache plain npm filled with a token: a stranger gets no private tarball on any path, every public one', async () => {
  const seeder = await p2p.serve(cacheA)
  const outsider = await stranger()
  const peer = await outsider.dial(seeder.address)
  await assertStrangerView(outsider, peer)

  // DHT: serve announces what it serves (at start, and what peers ask for) — when it has DHT peers
  // beyond its connections (one stranger joins its routing table and goes away for good). Another
  // stranger keeps every provider record it is sent: the public CIDs arrive, the private never do.
  const recorder = await stranger({ recordDht: true })
  await recorder.dial(seeder.address)
  const passer = await stranger()
  await passer.dial(seeder.address)
  await waitFor(() => passer.libp2p.services.lanDHT.routingTable.size > 0, 'serve in the passing stranger\'s routing table')
  await new Promise((resolve) => setTimeout(resolve, 500))
  await passer.stop()
  for (const ref of privateRefs) await outsider.ask(peer, ref)
  const key = (ref: TarballRef): string => Buffer.from(raw(ref).multihash.bytes).toString('base64')
  for (const ref of publicRefs) await outsider.ask(peer, ref)
  await waitFor(() => publicRefs.every((ref) => recorder.providerRecords.has(key(ref))), 'the provider records of the public tarballs', 30_000)
  // serve also announces tarballs under the CID `ipfs add` gives them (raw, sha2-256): neither
  // form of a private one may be in any record
  for (const ref of privateRefs) {
    const bytes = registries.scoped.packages.get(`${ref.name}@${ref.version}`)!.tarball
    for (const [name, multihash] of [['sha2-512', await sha512.digest(bytes)], ['sha2-256', await sha256.digest(bytes)]] as const) {
      assert.ok(!recorder.providerRecords.has(Buffer.from(multihash.bytes).toString('base64')), `${ref.name}: its ${name} CID in no provider record`)
    }
  }
})

test('inside the swarm the private tarballs are served: an install with the key and no registry gets all from the peer', async () => {
  const seeder = await p2p.serve(cacheA, { extra: ['--swarm-key', swarmKey] })
  // a stranger without the key cannot even connect
  const outsider = await stranger()
  await assert.rejects(outsider.dial(seeder.address))

  const dir = await p2p.project('scoped', 'in-swarm')
  const dead = join(work, 'dead-npmrc')
  // registries nobody answers on (the token lines kept): every byte must come from the swarm
  await writeFile(dead, registries.npmrc(['fetch-retries=0']).replaceAll(registries.main.url, 'http://127.0.0.1:9/').replaceAll(registries.scoped.url, 'http://127.0.0.1:9/scoped/'))
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', dead, '--cache', join(work, 'cache-swarm'), '--no-mdns', '--swarm-key', swarmKey, '--peer', seeder.address, '--peer-timeout', PEER_TIMEOUT])
  assertOk(run, 'ipfs-npm ci inside the swarm')
  assert.deepEqual(parseOrigins(run), { cache: 0, peers: privateRefs.length + publicRefs.length, registry: 0 }, run.stdout)
  await assertSameTree(reference, dir)
})

test('an install outside the swarm asks peers for public tarballs only, and what it caches is classified at fetch time', async () => {
  const seeder = await p2p.serve(cacheA)
  const dir = await p2p.project('scoped', 'outside')
  const cacheB = join(work, 'cache-b')
  const scopedBefore = registries.scoped.requests.length
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', userconfig, '--cache', cacheB, '--no-mdns', '--peer', seeder.address, '--peer-timeout', PEER_TIMEOUT])
  assertOk(run, 'ipfs-npm ci outside the swarm')
  assert.deepEqual(parseOrigins(run), { cache: 0, peers: publicRefs.length, registry: privateRefs.length }, run.stdout)
  const tarballs = registries.scoped.requests.slice(scopedBefore).filter((request) => request.path.endsWith('.tgz'))
  assert.equal(tarballs.length, privateRefs.length, 'the private tarballs came from their registry, with the token')
  await assertSameTree(reference, dir)

  // ipfs-npm wrote this cache itself (its entries carry the URL each tarball stands for)
  const again = await p2p.serve(cacheB)
  const outsider = await stranger()
  await assertStrangerView(outsider, await outsider.dial(again.address))
})

test('a node that does not serve (an install\'s default) answers nothing at all', async () => {
  const node = await createIpfsNode({
    cacheDir: cacheA,
    options: { peers: [], listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], peerTimeout: 2000 },
    serve: false,
    sharing: createSharingPolicy({ flat: {} }),
  })
  try {
    const outsider = await stranger()
    const peer = await outsider.dial(node.info().addresses[0]!)
    for (const ref of publicRefs) assert.equal(await outsider.ask(peer, ref), 'unknown', `${ref.name}: no CID protocol`)
    const replies = await outsider.want(peer, publicRefs.map(raw), 'block', 3000)
    for (const ref of publicRefs) assert.equal(replies.get(raw(ref).toString())?.block, undefined, `${ref.name}: no block`)
  } finally {
    await node.stop()
  }
})

test('serve\'s registry on loopback answers only processes of the user running it', async (t) => {
  const setpriv = await runCommand('setpriv', ['--version'], { cwd: work }).catch(() => undefined)
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || setpriv?.code !== 0) {
    t.skip('needs Linux, root and setpriv to run a client as another user')
    return
  }
  const seeder = await p2p.serve(cacheA)
  const mine = await fetch(`${seeder.url}@fix%2fscoped-a`)
  assert.equal(mine.status, 200, 'the user itself reads a private packument through serve')
  await mine.arrayBuffer()
  // nobody (65534): another account on the same machine, same loopback
  const theirs = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-s', '-w', '\n%{http_code}', `${seeder.url}@fix%2fscoped-a`], { cwd: work })
  const [body, status] = [theirs.stdout.slice(0, theirs.stdout.lastIndexOf('\n')), theirs.stdout.slice(theirs.stdout.lastIndexOf('\n') + 1)]
  assert.equal(status, '403', theirs.stdout + theirs.stderr)
  assert.match(body, /only to processes of the user running it/)
  assert.doesNotMatch(body, /scoped-a/, 'nothing of the packument')
})
