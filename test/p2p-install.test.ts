/**
 * End to end over loopback: `ipfs-npm serve` seeds a cache that plain `npm ci` filled, and
 * `ipfs-npm ci --peer` installs with the registry dead (`http://127.0.0.1:9/`) — a tarball over
 * 1 MiB, a sha1-only lock entry, lockfiles with and without `resolved` — into a tree identical,
 * file by file, to npm's. Then a third node installs from two seeders, and npm itself installs
 * through `serve`'s registry.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { addResolvedUrls, parseOrigins } from './helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { assertOk, assertSameTree, createP2pWork, sha1Only, type P2pWork, writeDeadUserconfig } from './helpers/p2p.ts'
import { runCommand } from './helpers/run-command.ts'
import type { ServeProcess } from './helpers/serve.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let p2p: P2pWork
/** A user config whose registries are all dead: whatever installs came from peers. */
let deadConfig: string
let seedA: ServeProcess
let bundledRef: string
let resolvedRef: string
let sha1Ref: string

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('p2p')
  const liveConfig = join(work, 'live-npmrc')
  deadConfig = join(work, 'dead-npmrc')
  await registries.writeUserconfig(liveConfig)
  await writeDeadUserconfig(deadConfig, ['@fix'])
  p2p = createP2pWork({ work, userconfig: liveConfig })
  // A's cache is filled by plain npm, before ipfs-npm ever ran on it
  const cacheA = join(work, 'cache-a')
  bundledRef = await p2p.npmReference('bundled', cacheA, 'plain')
  resolvedRef = await p2p.npmReference('bundled', cacheA, 'resolved', (dir) => addResolvedUrls(dir, registries))
  sha1Ref = await p2p.npmReference('basic', cacheA, 'sha1', (dir) => sha1Only(registries, dir, 'delta'))
  seedA = await p2p.serve(cacheA)
})

after(async () => {
  await p2p.stop()
  await registries.stop()
  await removeDir(work)
})

/** `ipfs-npm ci` of a project copy from peers only. */
async function ciFromPeers (dir: string, cache: string, peers: string[]): Promise<ReturnType<typeof parseOrigins>> {
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', deadConfig, '--cache', join(work, cache), '--no-mdns', ...peers.flatMap((peer) => ['--peer', peer])])
  assertOk(run, `ipfs-npm ci in ${dir}`)
  const origins = parseOrigins(run)
  assert.ok(origins && origins.peers > 0 && origins.registry === 0 && origins.cache === 0, run.stdout)
  // the where-from line names the peers that sent blocks
  assert.match(run.stdout, /^0 from cache, \d+ from peers \(\d+ peers?: 12D3…\w{3}(, 12D3…\w{3})*\), 0 from registry$/m)
  return origins
}

interface Info { peerId: string, addresses: string[], peers: string[], served: { blocks: number, bytes: number } }
const infoOf = async (seeder: ServeProcess): Promise<Info> => await (await fetch(`${seeder.url}-/ipfs-npm/info`)).json() as Info

test('serve answers /-/ipfs-npm/info with its peer id and full addresses', async () => {
  const info = await infoOf(seedA)
  assert.match(info.peerId, /^12D3Koo/)
  assert.ok(info.addresses.includes(seedA.address), JSON.stringify(info.addresses))
  assert.ok(info.addresses.every((a) => a.endsWith(`/p2p/${info.peerId}`)))
})

test('with the registry dead, B installs everything from A: a tarball over 1 MiB included, npm\'s tree; A counts what it served', async () => {
  const before = await infoOf(seedA)
  const dir = await p2p.project('bundled', 'b-bundled')
  const origins = await ciFromPeers(dir, 'cache-b', [seedA.address])
  await assertSameTree(bundledRef, dir)
  const after = await infoOf(seedA)
  // a tarball is one block, or (over 1 MiB) a root and its leaves; every byte of them was sent
  const lock = await readFile(join(dir, 'package-lock.json'), 'utf8')
  const tarballBytes = [...registries.main.packages.values(), ...registries.scoped.packages.values()]
    .filter((p) => lock.includes(p.integrity)).reduce((sum, p) => sum + p.tarball.length, 0)
  assert.ok(after.served.blocks - before.served.blocks > origins!.peers, `blocks served: ${before.served.blocks} → ${after.served.blocks}, ${origins!.peers} tarballs from peers (one over 1 MiB)`)
  assert.ok(after.served.bytes - before.served.bytes >= tarballBytes, `bytes served: ${after.served.bytes - before.served.bytes} of ${tarballBytes}`)
})

test('a lockfile with resolved URLs (of a registry now dead) installs from the peer all the same', async () => {
  const dir = await p2p.project('bundled', 'c-bundled-resolved')
  await addResolvedUrls(dir, registries)
  await ciFromPeers(dir, 'cache-c', [seedA.address])
  await assertSameTree(resolvedRef, dir)
})

test('a sha1-only lock entry is found by the integrity→CID protocol and verified by its sha1', async () => {
  const dir = await p2p.project('basic', 'd-basic-sha1')
  await sha1Only(registries, dir, 'delta')
  await ciFromPeers(dir, 'cache-d', [seedA.address])
  await assertSameTree(sha1Ref, dir)
})

test('three nodes: C installs from A and B, B having got its tarballs from A', async () => {
  const seedB = await p2p.serve(join(work, 'cache-b'))
  const dir = await p2p.project('bundled', 'e-bundled')
  await ciFromPeers(dir, 'cache-e', [seedA.address, seedB.address])
  await assertSameTree(bundledRef, dir)
})

test('npm itself installs through serve\'s registry, and gets npm\'s tree', async () => {
  const dir = await p2p.project('bundled', 'f-bundled-npm')
  const config = join(work, 'serve-npmrc')
  await writeFile(config, [`registry=${seedA.url}`, `@fix:registry=${seedA.url}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  assertOk(await runCommand('npm', ['ci', '--userconfig', config, '--cache', join(work, 'cache-f')], { cwd: dir }), 'npm ci through serve')
  await assertSameTree(bundledRef, dir)
})
