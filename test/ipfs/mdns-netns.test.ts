/**
 * LAN discovery for real: two network namespaces joined by a veth pair (a two-host LAN with a
 * multicast route), a seeder in one, a fetcher in the other that is told no peer address — it
 * must find the seeder by mDNS alone and fetch from it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import type { TarballRef } from '../../src/types.ts'
import { npmCiCache, runCleanup, spawnPeer, tempDir } from './helpers.ts'

const run = promisify(execFile)
const cleanup: Array<() => Promise<void>> = []
const id = process.pid % 100_000
const ns = { a: `inpm-a-${id}`, b: `inpm-b-${id}` }
const veth = { a: `inpa${id}`, b: `inpb${id}` }
let skip: string | undefined
let cacheDir: string
let refs: TarballRef[]

async function ip (...args: string[]): Promise<void> {
  await run('ip', args)
}

before(async () => {
  try {
    await ip('netns', 'add', ns.a)
    cleanup.push(async () => ip('netns', 'del', ns.a))
    await ip('netns', 'add', ns.b)
    cleanup.push(async () => ip('netns', 'del', ns.b))
    await ip('link', 'add', veth.a, 'type', 'veth', 'peer', 'name', veth.b)
    for (const [side, address] of [['a', '10.231.0.1/24'], ['b', '10.231.0.2/24']] as const) {
      await ip('link', 'set', veth[side], 'netns', ns[side])
      await ip('-n', ns[side], 'addr', 'add', address, 'dev', veth[side])
      await ip('-n', ns[side], 'link', 'set', veth[side], 'up')
      await ip('-n', ns[side], 'link', 'set', 'lo', 'up')
      await ip('-n', ns[side], 'route', 'add', '224.0.0.0/4', 'dev', veth[side])
    }
  } catch (err) {
    skip = `cannot create network namespaces: ${(err as Error).message.split('\n')[0]}`
    console.log(`# skipped: ${skip}`)
    return
  }
  ;({ cacheDir, refs } = await npmCiCache(await tempDir(cleanup)))
})
after(async () => runCleanup(cleanup))

test('B finds A on the LAN by mDNS alone and fetches tarballs from it', async (t) => {
  if (skip !== undefined) {
    t.skip(skip)
    return
  }
  const options = { peers: [], listen: ['/ip4/0.0.0.0/tcp/0'], mdns: true, bootstrap: [], peerTimeout: 2000 }
  const seeder = spawnPeer(cleanup, { cacheDir, options }, ['ip', 'netns', 'exec', ns.a])
  const { info } = await seeder.next<{ info: { peerId: string, addresses: string[] } }>((line) => line.info !== undefined)
  assert.ok(info.addresses.some((address) => address.startsWith('/ip4/10.231.0.1/')), `A listens on the LAN: ${info.addresses}`)

  const wanted = refs.slice(0, 10)
  const bCache = await tempDir(cleanup)
  const fetcher = spawnPeer(cleanup, { cacheDir: bCache, options, fetch: wanted, minPeers: 1 }, ['ip', 'netns', 'exec', ns.b])
  const { connected } = await fetcher.next<{ connected: string[] }>((line) => line.connected !== undefined)
  assert.deepEqual(connected, [info.peerId], 'B connected to A, found by mDNS')
  const { fetched, ms } = await fetcher.next<{ fetched: Array<{ name: string, verified: boolean }>, ms: number }>((line) => line.fetched !== undefined)
  assert.deepEqual(fetched.map((result) => result.verified), wanted.map(() => true))
  console.log(`# mDNS LAN: ${fetched.length} tarballs in ${ms} ms`)
})
