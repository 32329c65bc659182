/**
 * When an install starts its IPFS node (src/peers.ts): only when the node could reach someone.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { DEFAULT_OPTIONS } from '../src/options.ts'
import { createLazyPeers } from '../src/peers.ts'
import { tempDir } from './helpers/temp-dir.ts'

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

const alone = { ...DEFAULT_OPTIONS, peers: [], mdns: false, bootstrap: [], listen: ['/ip4/127.0.0.1/tcp/0'] }

test('no peer named, no mDNS, no DHT: the fetcher is none and the node is not started', async () => {
  const cacheDir = await tempDir('peers-alone', cleanup)
  const peers = createLazyPeers({ cacheDir, options: alone, offline: false, log: () => {} })
  assert.equal(await peers.get(), undefined)
  assert.equal(peers.started, false)
})

test('the same node serving (others may dial it): started, and it fetches', async () => {
  const cacheDir = await tempDir('peers-serving', cleanup)
  const peers = createLazyPeers({ cacheDir, options: alone, offline: false, serve: true, log: () => {} })
  cleanup.unshift(async () => { await peers.stop() })
  assert.notEqual(await peers.get(), undefined)
  assert.equal(peers.started, true)
})

test('a named peer, even one that does not answer, is worth starting the node for', async () => {
  const cacheDir = await tempDir('peers-named', cleanup)
  const peers = createLazyPeers({ cacheDir, options: { ...alone, peers: ['/ip4/127.0.0.1/tcp/9'], peerTimeout: 500 }, offline: false, log: () => {}, warn: () => {} })
  cleanup.unshift(async () => { await peers.stop() })
  assert.notEqual(await peers.get(), undefined)
  assert.equal(peers.started, true)
})
