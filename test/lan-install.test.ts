/**
 * The LAN case end to end: two hosts in network namespaces, A running `ipfs-npm serve` over a
 * cache plain npm filled, B running `ipfs-npm ci` with no `--peer` and no route to any registry.
 * B finds A by mDNS alone and installs npm's exact tree, everything from the peer.
 */
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { parseOrigins } from './helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { createLan, type Lan } from './helpers/netns.ts'
import { assertOk, assertSameTree, createP2pWork, type P2pWork } from './helpers/p2p.ts'
import { tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let p2p: P2pWork
let lan: Lan

before(async () => {
  lan = await createLan('lan', 77)
  registries = await startFixtureRegistries()
  work = await tempDir('lan')
  const userconfig = join(work, 'npmrc')
  await registries.writeUserconfig(userconfig)
  p2p = createP2pWork({ work, userconfig })
})

after(async () => {
  await p2p.stop()
  await lan.remove()
  await registries.stop()
  await rm(work, { recursive: true, force: true })
})

test('B finds A by mDNS alone and installs from it, with no registry reachable', async (t) => {
  if (lan.skip !== undefined) {
    console.log(`# skipped: ${lan.skip}`)
    t.skip(lan.skip)
    return
  }
  const cacheA = join(work, 'cache-a')
  const reference = await p2p.npmReference('bundled', cacheA, 'plain')
  const seeder = await p2p.serve(cacheA, { wrapper: lan.on('a'), listen: '/ip4/0.0.0.0/tcp/0', mdns: true, addressPrefix: '/ip4/10.231.' })
  assert.match(seeder.address, /^\/ip4\/10\.231\.77\.1\//)

  const dir = await p2p.project('bundled', 'b-bundled')
  const config = join(work, 'b-npmrc')
  // the registry B is told of is the real fixture registry's URL — B's namespace has no route to it
  await writeFile(config, [`registry=${registries.main.url}`, `@fix:registry=${registries.scoped.url}`, 'fetch-retries=0', 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', config, '--cache', join(work, 'cache-b')], lan.on('b'))
  assertOk(run, 'ipfs-npm ci on the LAN')
  const origins = parseOrigins(run)
  assert.ok(origins && origins.peers > 0 && origins.registry === 0, run.stdout)
  await assertSameTree(reference, dir)
  console.log(`# LAN by mDNS: ${origins.peers} tarballs from the peer in ${run.ms} ms`)
})
