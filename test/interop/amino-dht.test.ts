/**
 * `--bootstrap` joins an Amino DHT (`/ipfs/kad/1.0.0`) as any IPFS node would, and `serve` provides
 * what it holds there — under the CIDs it serves and no other. The public network is out of reach
 * here, so the DHT is three stock Helia nodes on loopback running that protocol as servers; a
 * fourth, a DHT client with no ipfs-npm code, finds `serve` by provider records alone and fetches
 * from it without being told its address.
 */
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { importBytes } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha512 } from 'multiformats/hashes/sha2'
import { extractFlags } from '../../src/options.ts'
import type { PackedPackage } from '../helpers/fixture-packages.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { assertOk, createP2pWork, type P2pWork, type Seeder, writeDeadUserconfig } from '../helpers/p2p.ts'
import { startStockHelia, type StockHelia } from './stock-helia.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const MiB = 1024 * 1024
let registries: FixtureRegistries
let work: string
let p2p: P2pWork
let dht: StockHelia[]
let client: StockHelia
let seed: Seeder
let small: PackedPackage
let large: PackedPackage

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('amino')
  const liveConfig = join(work, 'live-npmrc')
  await registries.writeUserconfig(liveConfig)
  p2p = createP2pWork({ work, userconfig: liveConfig })
  await p2p.npmReference('interop', join(work, 'cache-a'), 'plain')
  small = registries.main.packages.get('alpha@1.1.0')!
  large = registries.main.packages.get('large@1.0.0')!
  assert.ok(small.tarball.length <= MiB && large.tarball.length > 4 * MiB)
  const first = await startStockHelia({ dht: [], dhtServer: true })
  dht = [first, ...await Promise.all([0, 1].map(async () => startStockHelia({ dht: [first.address], dhtServer: true })))]
  client = await startStockHelia({ dht: dht.map((node) => node.address) })
  seed = await p2p.serve(join(work, 'cache-a'), { extra: ['--bootstrap', dht.map((node) => node.address).join(',')] })
})

after(async () => {
  await Promise.all([client, ...dht].map(async (node) => node?.stop()))
  await p2p.stop()
  await registries.stop()
  await rm(work, { recursive: true, force: true })
})

const rawCid = async (bytes: Uint8Array): Promise<CID> => CID.createV1(raw.code, await sha512.digest(bytes))
const rootCid = async (bytes: Uint8Array): Promise<CID> => (await importBytes(bytes, { put: async (c: CID) => c } as any, { profile: 'unixfs-v1-2025' })).cid

/** Peer ids the DHT lists as providers of `cid`, as the client finds them. */
async function providers (cid: CID, ms = 5000): Promise<string[]> {
  const found: string[] = []
  try {
    for await (const provider of client.helia.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(ms) })) found.push(provider.id.toString())
  } catch {
    // the query's time ran out: what was found is the answer
  }
  return found
}

async function waitForProvider (cid: CID, peerId: string, ms = 60_000): Promise<number> {
  const started = Date.now()
  while (!(await providers(cid, 3000)).includes(peerId)) {
    if (Date.now() - started > ms) throw new Error(`no provider record of ${cid} by ${peerId} after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return Date.now() - started
}

test('serve provides on the Amino DHT what it serves: a small tarball as `ipfs add` names it, a large one\'s DAG root', async () => {
  const peerId = seed.address.split('/p2p/')[1]!
  // (the raw sha2-512 CID is provided too, but js kad-dht servers, unlike Kubo's, keep records for sha2-256 keys only)
  const tookSmall = await waitForProvider(await rootCid(small.tarball), peerId)
  const tookLarge = await waitForProvider(await rootCid(large.tarball), peerId)
  console.log(`# interop: provider records on a loopback Amino DHT: small after ${tookSmall} ms, large root after ${tookLarge} ms`)
})

test('a stock DHT client fetches a large tarball from serve by its root alone, found through the DHT', async () => {
  // the client was never given serve's address: it has it from the DHT (serve is one of its servers)
  const started = Date.now()
  const chunks: Uint8Array[] = []
  for await (const chunk of client.fs.cat(await rootCid(large.tarball), { signal: AbortSignal.timeout(60_000) })) chunks.push(chunk)
  assert.ok(Buffer.concat(chunks).equals(large.tarball))
  console.log(`# interop: stock Helia ← serve through the DHT: ${large.tarball.length} bytes in ${Date.now() - started} ms`)
})

test('no provider record for a CID we cannot serve: the raw CID of a tarball over 1 MiB', async () => {
  // another ipfs-npm on the same DHT fetches the large tarball from serve (serve answers its CID
  // question, the fetcher verifies it): both used to announce the raw CID afterwards
  const dir = await p2p.project('interop', 'b-interop')
  const config = join(work, 'dead-npmrc')
  await writeDeadUserconfig(config)
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', config, '--cache', join(work, 'cache-b'), '--no-mdns', '--peer', seed.address, '--bootstrap', dht.map((node) => node.address).join(','), '--loglevel', 'verbose'])
  assertOk(run, 'ipfs-npm ci from serve')
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }
  assert.ok(lock.packages['node_modules/large'])
  // the records they did put are found in well under a second (see above); this one by no one
  await new Promise((resolve) => setTimeout(resolve, 3000))
  assert.deepEqual(await providers(await rawCid(large.tarball)), [])
})

test('--bootstrap alone means the public network', () => {
  assert.deepEqual(extractFlags(['serve', '--bootstrap']).flags.bootstrap, ['public'])
  assert.deepEqual(extractFlags(['serve', '--bootstrap', '--no-mdns']), { flags: { bootstrap: ['public'], mdns: false }, rest: ['serve'] })
  assert.deepEqual(extractFlags(['serve', '--bootstrap', '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEVPLWta5ZCHV1obihHQn6xx6o5SAaFCChy39qhTPUc3f']).flags.bootstrap, ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEVPLWta5ZCHV1obihHQn6xx6o5SAaFCChy39qhTPUc3f'])
  assert.deepEqual(extractFlags(['serve', '--bootstrap=public']).flags.bootstrap, ['public'])
})
