/**
 * Which peers the fetcher asks over the CID protocol: only one that answered a tarball's raw want
 * with DONT_HAVE (or said nothing for half the silence bound), never one that is sending the raw
 * block. The serving peer here is built from the real parts (our libp2p, bitswap and CID
 * protocol) over a blockstore in memory, so the test sees every question it is asked and decides
 * when a block goes out.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { CID } from 'multiformats/cid'
import { startBitswap } from '../../src/ipfs/bitswap.ts'
import { importTarball, rawCidOf } from '../../src/ipfs/cid.ts'
import { handleCidProtocol } from '../../src/ipfs/cid-protocol.ts'
import { createNodeLibp2p } from '../../src/ipfs/libp2p.ts'
import type { TarballRef } from '../../src/types.ts'
import { packRandomPackage, runCleanup, startNode, tempDir, waitForPeers } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
let dir: string

before(async () => {
  dir = await tempDir(cleanup)
})
after(async () => runCleanup(cleanup))

/** Blocks in memory; a read of a block in `held` waits until `release()`. */
function heldBlockstore (): { store: any, put(cid: CID, bytes: Uint8Array): void, hold(cid: CID): void, release(): void } {
  const blocks = new Map<string, Uint8Array>()
  const held = new Set<string>()
  let release = (): void => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const store = {
    async has (cid: CID) { return blocks.has(cid.toString()) },
    async put (cid: CID, bytes: Uint8Array) { blocks.set(cid.toString(), bytes); return cid },
    async * get (cid: CID) {
      const bytes = blocks.get(cid.toString())
      if (bytes === undefined) throw Object.assign(new Error('not found'), { name: 'NotFoundError' })
      if (held.has(cid.toString())) await released
      yield bytes
    },
  }
  return { store, put: (cid, bytes) => blocks.set(cid.toString(), bytes), hold: (cid) => held.add(cid.toString()), release }
}

test('a peer sending the raw block is not asked for its CID; one that says DONT_HAVE is, at once', async () => {
  const small = await packRandomPackage(dir, 'small-one', 50_000)
  const big = await packRandomPackage(dir, 'big-one', 2 * 1024 * 1024 + 777)
  const blocks = heldBlockstore()
  const smallCid = rawCidOf(small.data)
  blocks.put(smallCid, small.data)
  blocks.hold(smallCid)
  // the large tarball is only its UnixFS DAG: its raw want gets DONT_HAVE
  const root = await importTarball([big.data], blocks.store)

  const libp2p: Libp2p<any> = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], isDenied: () => false })
  await libp2p.start()
  cleanup.push(async () => { await libp2p.stop() })
  await startBitswap(libp2p, blocks.store)
  const asked: string[] = []
  await handleCidProtocol(libp2p, async (integrity) => {
    asked.push(integrity)
    // the small block goes out once the fetcher has asked about the big one: by then it would
    // have asked about the small one too if it asked every peer about every slow tarball
    if (integrity === big.ref.integrity) {
      blocks.release()
      return root
    }
    return integrity === small.ref.integrity ? smallCid : undefined
  }, 30_000, () => {})

  // half of this silence bound (the fallback for peers that say nothing) is longer than any test may take
  const fetcher = await startNode(cleanup, join(dir, 'fetcher'), { peers: [libp2p.getMultiaddrs()[0]!.toString()], peerTimeout: 3_600_000 })
  await waitForPeers(fetcher, 1)
  const fetch = async ({ ref, data }: { ref: TarballRef, data: Buffer }): Promise<void> => {
    const got = await fetcher.peers.fetch(ref)
    assert.ok(got !== undefined && Buffer.from(got).equals(data), `${ref.name} fetched`)
  }
  await Promise.all([fetch(small), fetch(big)])
  assert.deepEqual(asked, [big.ref.integrity])
})
