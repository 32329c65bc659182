/**
 * A peer the user named (`--peer`) on a loaded machine: its connection may drop mid-install and
 * its handshake may outlast libp2p's own 6 s bound. Neither loses the peer (both were seen in the
 * serve load test at load 15-20, where one of 20 peers fetched nothing).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createIpfsNode } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { LOOPBACK, handshakeProxy, npmCiCache, runCleanup, startNode, tempDir } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let dir: string
let cache: string
let refs: TarballRef[]

before(async () => {
  dir = await tempDir(cleanup)
  ;({ cacheDir: cache, refs } = await npmCiCache(dir))
})
after(async () => runCleanup(cleanup))

test('a named peer whose connection drops is dialled again, and fetches go on from it', async () => {
  const seeder = await startNode(cleanup, cache)
  const proxy = await handshakeProxy(cleanup, seeder, 0)
  const events: string[] = []
  let seen: () => void = () => {}
  const b = await createIpfsNode({
    cacheDir: join(dir, 'b-dropped'),
    // as an install's node: it serves nothing
    serve: false,
    // the peer gets long enough to answer on a loaded machine: the drop is what is tested
    options: { ...LOOPBACK, peers: [proxy.via], peerTimeout: 10_000 },
    log: (msg) => {
      if (!msg.startsWith(`ipfs: peer ${proxy.peerId} `)) return
      events.push(msg.slice(`ipfs: peer ${proxy.peerId} `.length))
      seen()
    },
  })
  cleanup.push(async () => b.stop())
  const after = (count: number): Promise<void> => new Promise((resolve) => {
    seen = () => { if (events.length >= count) resolve() }
    seen()
  })
  await after(1)
  assert.ok(await b.peers.fetch(refs[0]!) !== undefined, 'the first fetch failed')
  proxy.cut()
  // bounded, so that a node that never dials again fails the test instead of hanging it
  await Promise.race([after(3), new Promise((resolve) => setTimeout(resolve, 30_000))])
  assert.deepEqual(events.slice(0, 3), ['connected', 'disconnected', 'connected'], `the named peer was not dialled again after the drop: ${events.join(', ')}`)
  assert.ok(await b.peers.fetch(refs[1]!) !== undefined, 'no fetch from the peer after it was dialled again')
})

test('a named peer whose handshake outlasts libp2p\'s 6 s bound is kept when the peer timeout allows it', async () => {
  const seeder = await startNode(cleanup, cache)
  const proxy = await handshakeProxy(cleanup, seeder, 7000)
  // 20 s: the 7 s hold, then a handshake on a loaded machine
  const b = await startNode(cleanup, join(dir, 'b-slow'), { peers: [proxy.via], peerTimeout: 20_000 })
  assert.ok(await b.peers.fetch(refs[0]!) !== undefined, 'the peer was given up during its handshake')
  assert.deepEqual(b.info().peers, [proxy.peerId])
})
