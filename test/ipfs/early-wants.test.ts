import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test, { type TestContext } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { startBitswap } from '../../src/ipfs/bitswap.ts'
import { rawCidOf } from '../../src/ipfs/cid.ts'
import { createNodeLibp2p } from '../../src/ipfs/libp2p.ts'
import { memoryBlockstore } from '../helpers/memory-blockstore.ts'

/** A libp2p peer on TCP, Noise and yamux and nothing else: no identify, no protocols of its own. */
async function barePeer (t: TestContext): Promise<Libp2p> {
  const peer = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  t.after(async () => peer.stop())
  return peer
}

/** Our node's libp2p, started, as an install's (no mDNS, a LAN DHT client). */
async function ourNode (t: TestContext): Promise<Libp2p> {
  const libp2p = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false, lanDhtServer: false })
  await libp2p.start()
  t.after(async () => libp2p.stop())
  return libp2p
}

test('a connected peer takes wants before identify says what it speaks: one that never says still serves us', async (t) => {
  const data = randomBytes(200_000)
  const cid = rawCidOf(data)
  const store = memoryBlockstore()
  await store.put(cid, data)
  // bitswap on TCP, Noise and yamux, without identify: our node never learns its protocols
  const peer = await barePeer(t)
  const served = await startBitswap(peer, store)
  t.after(async () => served.stop())

  const libp2p = await ourNode(t)
  const exchange = await startBitswap(libp2p, memoryBlockstore())
  t.after(async () => exchange.stop())
  await libp2p.dial(peer.getMultiaddrs()[0]!)
  // (the bound only ends the test when the want would wait forever, as it did on the topology)
  const got = await exchange.want(cid, { signal: AbortSignal.timeout(20_000) })
  assert.ok(Buffer.from(got).equals(data))
  assert.equal(exchange.shares()[0]?.blocks, 1)
})

test('wants handed to a connected peer that does not speak bitswap come back to the peers that do', async (t) => {
  const data = randomBytes(50_000)
  const cid = rawCidOf(data)
  const store = memoryBlockstore()
  await store.put(cid, data)
  // no bitswap at all: our stream to it is refused
  const mute = await barePeer(t)
  const libp2p = await ourNode(t)
  let refused!: () => void
  const refusal = new Promise<void>((resolve) => { refused = resolve })
  const exchange = await startBitswap(libp2p, memoryBlockstore(), { log: (msg) => { if (msg.includes('cannot send')) refused() } })
  t.after(async () => exchange.stop())
  await libp2p.dial(mute.getMultiaddrs()[0]!)
  const wanted = exchange.want(cid, { signal: AbortSignal.timeout(20_000) })
  await refusal
  // the mute peer is no bitswap peer any more: the want waits for the next one, which has the block
  assert.deepEqual(exchange.shares(), [])
  const peer = await barePeer(t)
  const served = await startBitswap(peer, store)
  t.after(async () => served.stop())
  await libp2p.dial(peer.getMultiaddrs()[0]!)
  assert.ok(Buffer.from(await wanted).equals(data))
  assert.deepEqual(exchange.shares().map((s) => s.peer), [peer.peerId.toString()])
})
