/**
 * The resolver's order and fall-backs (src/resolver.ts) with a real cache and a real upstream
 * registry; the peers are a scripted PeerFetcher, standing in for nodes that answer late or never.
 */
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { createTarballCache } from '../src/cache.ts'
import { loadNpmConfig } from '../src/config.ts'
import { findUserNpm } from '../src/npm-location.ts'
import { createUpstream } from '../src/registry/upstream.ts'
import { createTarballResolver } from '../src/resolver.ts'
import type { LazyPeers, PeerFetcher, TarballRef, Upstream } from '../src/types.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let upstream: Upstream
let deadUpstream: Upstream
let ref: TarballRef
let bytes: Uint8Array

/** Peers that answer each fetch with the next scripted result, after its delay. */
function scriptedPeers (script: Array<{ after: number, data?: Uint8Array }>): Pick<LazyPeers, 'get'> & { calls: number } {
  const fetcher: PeerFetcher = {
    async fetch () {
      const step = script[Math.min(peers.calls++, script.length - 1)]
      await sleep(step.after)
      return step.data
    },
  }
  const peers = { calls: 0, get: async () => fetcher }
  return peers
}

async function upstreamFor (registry: string, name: string): Promise<Upstream> {
  const npm = findUserNpm()
  assert.ok(npm)
  const userconfig = join(work, `${name}-npmrc`)
  await writeFile(userconfig, `registry=${registry}\nfetch-retries=0\n`)
  // a fresh environment each time: loading a config sets npm_config_* in the env it is given
  const config = await loadNpmConfig({ npm, argv: ['install', '--userconfig', userconfig, '--cache', join(work, 'npm-cache')], cwd: work, env: { PATH: process.env.PATH, HOME: work } })
  return createUpstream({ flat: config.flat })
}

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('resolver')
  upstream = await upstreamFor(registries.main.url, 'live')
  deadUpstream = await upstreamFor('http://127.0.0.1:9/', 'dead')
  const packed = registries.main.packages.get('gamma@1.0.0')
  assert.ok(packed)
  ref = { name: 'gamma', version: '1.0.0', integrity: packed.integrity }
  bytes = new Uint8Array(packed.tarball)
})

after(async () => {
  await registries.stop()
  await removeDir(work)
})

const freshCache = async (): Promise<ReturnType<typeof createTarballCache>> => createTarballCache({ cachePath: join(await mkdtemp(join(work, 'cache-')), '_cacache') })

test('cache first: nothing else is asked', async () => {
  const cache = await freshCache()
  await cache.put(ref, bytes)
  const peers = scriptedPeers([{ after: 0, data: bytes }])
  const resolver = createTarballResolver({ cache, peers, upstream: deadUpstream, offline: false })
  assert.equal((await resolver.resolve(ref)).origin, 'cache')
  assert.equal(peers.calls, 0)
})

test('peers before the registry; what they deliver is stored', async () => {
  const cache = await freshCache()
  const resolver = createTarballResolver({ cache, peers: scriptedPeers([{ after: 0, data: bytes }]), upstream: deadUpstream, offline: false })
  assert.equal((await resolver.resolve(ref)).origin, 'peers')
  assert.equal(await cache.has(ref.integrity), true)
  assert.deepEqual(resolver.counts, { cache: 0, peers: 1, registry: 0 })
})

test('a tarball `missing` just found absent is fetched without reading the cache for it first; a later ask reads it', async () => {
  const inner = await freshCache()
  let reads = 0
  const cache = { ...inner, get: async (integrity: string) => { reads++; return inner.get(integrity) } }
  const resolver = createTarballResolver({ cache, peers: scriptedPeers([{ after: 0, data: bytes }]), upstream: deadUpstream, offline: false })
  assert.deepEqual(await resolver.missing([ref]), [ref])
  assert.equal((await resolver.resolve(ref)).origin, 'peers')
  assert.equal(reads, 0)
  assert.equal((await resolver.resolve(ref)).origin, 'cache')
  assert.equal(reads, 1)
})

test('peers silent: the registry delivers', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 0 }]), upstream, offline: false })
  assert.equal((await resolver.resolve(ref)).origin, 'registry')
})

test('a peer late for its bounded wait still wins its second chance when the registry is dead', async () => {
  const peers = scriptedPeers([{ after: 0 }, { after: 200, data: bytes }])
  const resolver = createTarballResolver({ cache: await freshCache(), peers, upstream: deadUpstream, offline: false })
  const result = await resolver.resolve(ref)
  assert.equal(result.origin, 'peers')
  assert.equal(peers.calls, 2)
})

test('neither: the registry\'s error, as npm would show it', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 0 }]), upstream: deadUpstream, offline: false })
  await assert.rejects(resolver.resolve(ref), { code: 'ECONNREFUSED' })
})

test('bytes that do not match the integrity never reach the cache, from either source', async () => {
  const wrong = new Uint8Array(bytes)
  wrong[wrong.length - 1] ^= 1
  // peers: a peer's bad bytes are its loss; with the registry dead the error is the registry's
  const fromPeers = await freshCache()
  const lyingPeer = createTarballResolver({ cache: fromPeers, peers: scriptedPeers([{ after: 0, data: wrong }]), upstream: deadUpstream, offline: false })
  await assert.rejects(lyingPeer.resolve(ref))
  assert.equal(await fromPeers.has(ref.integrity), false)
  // the registry: altered bytes under the packument's integrity are EINTEGRITY
  registries.main.faults.corrupt.add(`${ref.name}@${ref.version}`)
  try {
    const fromRegistry = await freshCache()
    const resolver = createTarballResolver({ cache: fromRegistry, peers: scriptedPeers([{ after: 0 }]), upstream, offline: false })
    await assert.rejects(resolver.resolve({ ...ref, resolved: registries.main.tarballUrl(ref.name, ref.version) }), { code: 'EINTEGRITY' })
    assert.equal(await fromRegistry.has(ref.integrity), false)
  } finally {
    registries.main.faults.corrupt.clear()
  }
})

test('offline: the cache or ENOTCACHED, never a peer', async () => {
  const peers = scriptedPeers([{ after: 0, data: bytes }])
  const resolver = createTarballResolver({ cache: await freshCache(), peers, upstream, offline: true })
  await assert.rejects(resolver.resolve(ref), { code: 'ENOTCACHED' })
  assert.equal(peers.calls, 0)
})

test('a tarball counts once, by its first origin, however often reify and the fetch phase ask', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 0, data: bytes }]), upstream: deadUpstream, offline: false })
  await Promise.all([resolver.resolve(ref), resolver.resolve(ref)])
  assert.equal((await resolver.resolve(ref)).origin, 'cache')
  assert.deepEqual(resolver.counts, { cache: 0, peers: 1, registry: 0 })
})

test('each asker gets bytes of its own: one fetch, and the first giving its bytes away (to a worker) leaves the other\'s whole', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 50, data: Buffer.from(new Uint8Array(bytes).buffer) }]), upstream: deadUpstream, offline: false })
  const [first, second] = await Promise.all([resolver.resolve(ref), resolver.resolve(ref)])
  structuredClone(first.data.buffer, { transfer: [first.data.buffer as ArrayBuffer] })
  assert.deepEqual(second.data, bytes)
  assert.deepEqual(resolver.counts, { cache: 0, peers: 1, registry: 0 })
})

test('a joiner\'s copy is made before the first asker holds the bytes: giving them away at once leaves the joiner\'s whole', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 50, data: Buffer.from(new Uint8Array(bytes).buffer) }]), upstream: deadUpstream, offline: false })
  // the first asker's reaction comes first and moves the bytes away in it, with no await between
  const first = resolver.resolve(ref).then((result) => {
    structuredClone(result.data.buffer, { transfer: [result.data.buffer as ArrayBuffer] })
  })
  const second = resolver.resolve(ref)
  await first
  assert.deepEqual((await second).data, bytes)
})

test('one run: a failed tarball is not fetched again; a long-lived server tries again', async () => {
  for (const oneRun of [true, false]) {
    const peers = scriptedPeers([{ after: 0 }])
    const resolver = createTarballResolver({ cache: await freshCache(), peers, upstream: deadUpstream, offline: false, oneRun })
    const first = await resolver.resolve(ref).catch((err: unknown) => err)
    const second = await resolver.resolve(ref).catch((err: unknown) => err)
    assert.equal((first as { code?: string }).code, 'ECONNREFUSED')
    assert.equal(second === first, oneRun, `oneRun ${oneRun}: the same error object`)
    assert.equal(peers.calls, oneRun ? 2 : 4, `oneRun ${oneRun}: peers asked (bounded wait, then the race) per try`)
  }
})

test('a failure belongs to its source: an entry with the same integrity and a good URL still gets the bytes', async () => {
  const resolver = createTarballResolver({ cache: await freshCache(), peers: scriptedPeers([{ after: 0 }]), upstream, offline: false, oneRun: true })
  const wrong = { ...ref, name: 'no-such-package', resolved: `${registries.main.url}no-such-package/-/no-such-package-1.0.0.tgz` }
  const [bad, good] = await Promise.allSettled([resolver.resolve(wrong), resolver.resolve({ ...ref, resolved: registries.main.tarballUrl(ref.name, ref.version) })])
  assert.equal(bad.status, 'rejected')
  assert.equal(good.status === 'fulfilled' && good.value.origin, 'registry')
  const askedForWrong = (): number => registries.main.requests.filter((r) => r.path === '/no-such-package/-/no-such-package-1.0.0.tgz').length
  const asked = askedForWrong()
  assert.ok(asked > 0, 'the wrong URL was tried')
  await assert.rejects(resolver.resolve(wrong))
  assert.equal(askedForWrong(), asked, 'the wrong URL is not tried again')
})
