/**
 * Interop with a stock Helia node (test/interop/stock-helia.ts: no ipfs-npm code on its side), in
 * both directions, over loopback:
 * - Helia fetches small tarballs (raw sha2-512 CIDs) and large ones (unixfs-v1-2025 roots it
 *   computes itself, as `ipfs add` would) from a fresh `ipfs-npm serve` that no ipfs-npm peer has
 *   asked anything: serve built the DAGs on its own;
 * - `ipfs-npm ci` installs a project, small and large tarballs, from a Helia seeder that holds
 *   them as any IPFS node would, plus one integrity → CID map it published with `dagJson.add`,
 *   with every registry dead — npm's tree, file by file;
 * - with no map, a large tarball nobody can name costs a bounded wait, not npm's retry back-off.
 * Each direction's time is printed (`# interop: …`) for the record.
 */
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha512 } from 'multiformats/hashes/sha2'
import { parseOrigins } from '../helpers/conformance.ts'
import type { PackedPackage } from '../helpers/fixture-packages.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { assertOk, assertSameTree, createP2pWork, type P2pWork, writeDeadUserconfig } from '../helpers/p2p.ts'
import { runCommand } from '../helpers/run-command.ts'
import { startStockHelia, type StockHelia } from './stock-helia.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const MiB = 1024 * 1024
let registries: FixtureRegistries
let work: string
let p2p: P2pWork
let deadConfig: string
let reference: string
let tarballs: PackedPackage[]
const helias: StockHelia[] = []

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('interop')
  const liveConfig = join(work, 'live-npmrc')
  deadConfig = join(work, 'dead-npmrc')
  await registries.writeUserconfig(liveConfig)
  await writeDeadUserconfig(deadConfig)
  p2p = createP2pWork({ work, userconfig: liveConfig })
  reference = await p2p.npmReference('interop', join(work, 'cache-a'), 'plain')
  const lock = JSON.parse(await readFile(join(reference, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  tarballs = Object.entries(lock.packages).filter(([path]) => path !== '').map(([path, entry]) => {
    const packed = registries.main.packages.get(`${path.replace(/^.*node_modules\//, '')}@${entry.version}`)
    assert.ok(packed, path)
    return packed
  })
  assert.ok(tarballs.some((t) => t.tarball.length > 4 * MiB), 'a tarball of several 1 MiB blocks')
  assert.ok(tarballs.some((t) => t.tarball.length <= MiB), 'small tarballs')
})

after(async () => {
  await Promise.all(helias.map(async (h) => h.stop()))
  await p2p.stop()
  await registries.stop()
  await rm(work, { recursive: true, force: true })
})

async function helia (): Promise<StockHelia> {
  const node = await startStockHelia()
  helias.push(node)
  return node
}

/** A small tarball's CID as its lockfile integrity names it: raw, sha2-512. */
const rawCid = async (tarball: Uint8Array): Promise<CID> => CID.createV1(raw.code, Digest.create(sha512.code, (await sha512.digest(tarball)).digest))

/** `ipfs add --only-hash` with unixfs-v1-2025's settings, spelled out rather than by profile name (raw sha2-256 up to 1 MiB). */
async function addCid (tarball: Uint8Array): Promise<CID> {
  const { cid } = await importBytes(tarball, { put: async (c: CID) => c } as any, {
    cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: MiB }), layout: balanced({ maxChildrenPerNode: 1024 }),
  })
  return cid
}

async function cat (node: StockHelia, cid: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of node.fs.cat(cid, { signal: AbortSignal.timeout(60_000) })) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('stock Helia fetches small and large tarballs from a fresh serve, which says it is ipfs-npm', async () => {
  const seed = await p2p.serve(join(work, 'cache-a'))
  const node = await helia()
  await node.dial(seed.address)
  const peerId = seed.address.split('/p2p/')[1]!
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  // identify runs just after the connection opens
  let agent: string | undefined
  for (let tries = 0; agent === undefined && tries < 100; tries++) {
    agent = await node.agentOf(peerId).catch(() => undefined)
    if (agent === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(agent, `ipfs-npm/${version}`)
  for (const packed of tarballs) {
    // a small one by the CID its integrity names, and by the one `ipfs add` gives it; a large one by its root
    const cids = packed.tarball.length <= MiB ? [await rawCid(packed.tarball), await addCid(packed.tarball)] : [await addCid(packed.tarball)]
    for (const cid of cids) {
      const started = Date.now()
      const bytes = await cat(node, cid)
      assert.ok(bytes.equals(packed.tarball), `${packed.name}: the tarball's bytes under ${cid}`)
      console.log(`# interop: stock Helia ← serve: ${packed.name} (${packed.tarball.length} bytes) by ${cid.toString().slice(0, 12)}… in ${Date.now() - started} ms`)
    }
  }
})

test('what serve caches while running is soon fetchable by its other CIDs, even when stock Helia asked before', async () => {
  const seed = await p2p.serve(join(work, 'cache-grow'))
  const node = await helia()
  await node.dial(seed.address)
  const small = tarballs.find((t) => t.tarball.length <= MiB)!
  const large = tarballs.find((t) => t.tarball.length > 4 * MiB)!
  // asked while serve holds neither (it answers DONT_HAVE), so only serve's announcement, once it
  // has prepared the CID, can answer: a small tarball by its `ipfs add` CID, a large one by its root
  const started = Date.now()
  const early = Promise.all([cat(node, await addCid(small.tarball)), cat(node, await addCid(large.tarball))])
  early.catch(() => {})
  const dir = await p2p.project('interop', 'g-interop')
  const config = join(work, 'through-serve-npmrc')
  await writeFile(config, [`registry=${seed.url}`, 'replace-registry-host=always', 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  assertOk(await runCommand('npm', ['ci', '--userconfig', config, '--cache', join(work, 'cache-g-npm')], { cwd: dir }), 'npm ci through serve')
  const [smallBytes, largeBytes] = await early
  assert.ok(smallBytes.equals(small.tarball), small.name)
  assert.ok(largeBytes.equals(large.tarball), large.name)
  console.log(`# interop: stock Helia ← serve, wanted before npm installed through serve: ${Date.now() - started} ms`)
})

test('ipfs-npm ci installs from a stock Helia seeder and its published map, registry dead: npm\'s tree', async () => {
  const seeder = await helia()
  // as IPFS users would hold them: most small ones as raw sha2-512 blocks (`ipfs block put`),
  // which need no mapping; the rest `ipfs add`ed with the profile, named in the map
  const map: Record<string, CID> = {}
  for (const packed of tarballs) {
    if (packed.tarball.length <= MiB && packed.name !== 'hello-bin') {
      assert.ok((await seeder.putRaw(packed.tarball)).equals(await rawCid(packed.tarball)))
      continue
    }
    const cid = await seeder.add(packed.tarball)
    assert.ok(cid.equals(await addCid(packed.tarball)))
    map[packed.integrity] = cid
  }
  const mapCid = await seeder.putDagJson({ 'npm-tarballs': map })
  const dir = await p2p.project('interop', 'b-interop')
  const started = Date.now()
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', deadConfig, '--cache', join(work, 'cache-b'), '--no-mdns', '--peer', seeder.address, '--cid-map', mapCid.toString()])
  const elapsed = Date.now() - started
  assertOk(run, 'ipfs-npm ci from stock Helia')
  assert.deepEqual(parseOrigins(run), { cache: 0, peers: tarballs.length, registry: 0 }, run.stdout)
  await assertSameTree(reference, dir)
  console.log(`# interop: ipfs-npm ci ← stock Helia + map: ${tarballs.length} tarballs (${tarballs.reduce((n, t) => n + t.tarball.length, 0)} bytes) in ${elapsed} ms`)
})

test('a large tarball nobody maps costs a bounded wait against a dead registry, not npm\'s back-off', async () => {
  const seeder = await helia()
  for (const packed of tarballs) await (packed.tarball.length <= MiB ? seeder.putRaw(packed.tarball) : seeder.add(packed.tarball))
  // npm's default retries: 10 s, then 60 s against a registry that refuses every connection
  const config = join(work, 'dead-default-retries-npmrc')
  await writeFile(config, ['registry=http://127.0.0.1:9/', 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  const dir = await p2p.project('interop', 'c-interop')
  const started = Date.now()
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', config, '--cache', join(work, 'cache-c'), '--no-mdns', '--peer', seeder.address])
  const elapsed = Date.now() - started
  assert.notEqual(run.code, 0, run.stdout)
  assert.match(run.stderr, /ECONNREFUSED/)
  assert.ok(elapsed < 20_000, `gave up after ${elapsed} ms`)
  console.log(`# interop: unmapped large tarball, dead registry: failed in ${elapsed} ms`)
})
