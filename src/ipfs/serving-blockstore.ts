/**
 * What bitswap may hand to peers: the cache blockstore, minus blocks over 1 MiB (a raw tarball that
 * big travels as a UnixFS DAG; our bitswap messages hold one 1 MiB block, see bitswap.ts),
 * counting every block served.
 */
import type { Blockstore } from 'interface-blockstore'
import { NotFoundError } from 'interface-store'
import type { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK } from './cid.ts'

/** Blocks and bytes sent to peers so far. */
export interface ServedCounts {
  blocks: number
  bytes: number
}

/** Wraps `store` for bitswap; `served` is updated in place. */
export function createServingBlockstore (store: CacheBlockstore, served: ServedCounts): Blockstore {
  const servable = async (cid: CID): Promise<boolean> => {
    const size = await store.size(cid)
    return size !== undefined && size <= MAX_RAW_BLOCK
  }
  return {
    ...store,
    has: servable,
    async * get (cid) {
      for await (const bytes of store.get(cid)) {
        // bitswap asked has() first; the size check here only spares a re-stat
        if (bytes.byteLength > MAX_RAW_BLOCK) throw new NotFoundError(`not serving ${cid}`)
        served.blocks++
        served.bytes += bytes.byteLength
        yield bytes
      }
    },
  }
}
