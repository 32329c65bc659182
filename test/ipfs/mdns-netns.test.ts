/**
 * LAN discovery for real: two network namespaces joined by a veth pair (a two-host LAN with a
 * multicast route), a seeder in one, a fetcher in the other that is told no peer address — it
 * must find the seeder by mDNS alone and fetch from it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { TarballRef } from '../../src/types.ts'
import { createLan, type Lan } from '../helpers/netns.ts'
import { npmCiCache, runCleanup, spawnPeer, tempDir } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let lan: Lan
let cacheDir: string
let refs: TarballRef[]

before(async () => {
  lan = await createLan('mdns', 31)
  cleanup.push(() => lan.remove())
  if (lan.skip !== undefined) {
    console.log(`# skipped: ${lan.skip}`)
    return
  }
  ;({ cacheDir, refs } = await npmCiCache(await tempDir(cleanup)))
})
after(async () => runCleanup(cleanup))

test('B finds A on the LAN by mDNS alone and fetches tarballs from it', async (t) => {
  if (lan.skip !== undefined) {
    t.skip(lan.skip)
    return
  }
  const options = { peers: [], listen: ['/ip4/0.0.0.0/tcp/0'], mdns: true, bootstrap: [], peerTimeout: 2000 }
  const seeder = spawnPeer(cleanup, { cacheDir, options }, lan.on('a'))
  const { info } = await seeder.next<{ info: { peerId: string, addresses: string[] } }>((line) => line.info !== undefined)
  assert.ok(info.addresses.some((address) => address.startsWith('/ip4/10.231.31.1/')), `A listens on the LAN: ${info.addresses}`)

  const wanted = refs.slice(0, 10)
  const bCache = await tempDir(cleanup)
  const fetcher = spawnPeer(cleanup, { cacheDir: bCache, options, fetch: wanted, minPeers: 1 }, lan.on('b'))
  const { connected } = await fetcher.next<{ connected: string[] }>((line) => line.connected !== undefined)
  assert.deepEqual(connected, [info.peerId], 'B connected to A, found by mDNS')
  const { fetched, ms } = await fetcher.next<{ fetched: Array<{ name: string, verified: boolean }>, ms: number }>((line) => line.fetched !== undefined)
  assert.deepEqual(fetched.map((result) => result.verified), wanted.map(() => true))
  console.log(`# mDNS LAN: ${fetched.length} tarballs in ${ms} ms`)
})
