/**
 * What bitswap may hand to peers: the cache blockstore, minus what this node may not give them
 * (servable.ts: private content outside a swarm, everything when it does not serve) and blocks
 * over 1 MiB (a raw tarball that big travels as a UnixFS DAG; our bitswap messages hold one 1 MiB
 * block, see bitswap.ts), counting every block served. `has` is what bitswap's HAVE / DONT_HAVE
 * answers come from, so a block held back is one we do not have, as far as any peer can tell.
 * Blocks served lately are answered from memory (recent-blocks.ts), the gate asked all the same.
 */
import type { Blockstore } from 'interface-blockstore'
import { NotFoundError } from 'interface-store'
import type { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK } from './cid.ts'
import { createRecentBlocks } from './recent-blocks.ts'
import type { Servable } from './servable.ts'

/** Bytes of recently served blocks kept in memory: a large project's tarballs (24 MB) and then some, a third of a monorepo's (178 MB). */
const RECENT_BYTES = 64 * 1024 * 1024

/** Blocks and bytes sent to peers so far. */
export interface ServedCounts {
  blocks: number
  bytes: number
}

/**
 * Wraps `store` for bitswap; `served` is updated in place. `tooLarge` hears of a wanted block we
 * hold but do not send whole (over 1 MiB: a large tarball's raw CID, served as a UnixFS DAG), so
 * the node can build that DAG before the asker's CID question comes.
 */
export function createServingBlockstore (store: CacheBlockstore, gate: Servable, served: ServedCounts, tooLarge?: (cid: CID) => void): Blockstore {
  const recent = createRecentBlocks({ maxBytes: RECENT_BYTES })
  const keyOf = (cid: CID): string => Buffer.from(cid.multihash.bytes).toString('base64')
  const servable = async (cid: CID): Promise<boolean> => {
    if (recent.get(keyOf(cid)) !== undefined) return gate.block(cid)
    const size = await store.size(cid)
    return size !== undefined && size <= MAX_RAW_BLOCK && await gate.block(cid)
  }
  return {
    ...store,
    has: servable,
    async * get (cid) {
      // bitswap asks for a wanted block without has(): this is the gate for both, asked once the
      // block is known to be here (as has() does, so that a want for a block we lack costs one
      // failed open, not the gate's look-ups) and before any byte goes out or into `recent`
      const key = keyOf(cid)
      const kept = recent.get(key)
      // told by the read's own stat, so a block we lack still costs one failed open
      const bytes = kept ?? await store.read(cid, MAX_RAW_BLOCK, tooLarge && (() => tooLarge(cid)))
      if (bytes === undefined || !await gate.block(cid)) throw new NotFoundError(`not serving ${cid}`)
      if (kept === undefined) recent.set(key, bytes)
      served.blocks++
      served.bytes += bytes.byteLength
      yield bytes
    },
  }
}
