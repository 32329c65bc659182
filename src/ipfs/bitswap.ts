/**
 * Bitswap without Helia. `@helia/bitswap` only exports `withBitswap(helia)`, a mixin that builds
 * its block broker from the Helia node's components; `helia`'s `createHelia` would pull in
 * `@helia/libp2p`'s default libp2p (WebRTC, gateways, delegated routing…). So we hand the mixin
 * the few components it reads, on a stand-in host that is "starting", and keep the broker.
 */
import { withBitswap } from '@helia/bitswap'
import type { HeliaMixin } from '@helia/interface'
import type { Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { MAX_RAW_BLOCK } from './cid.ts'

/**
 * Our messages carry at most one 1 MiB block (plus small ones): a peer sees a block arrive every
 * 1 MiB instead of one 4 MiB message at the end, which is what keeps many peers fetching one big
 * tarball from a seeder within their timeout of silence. Every block we serve must fit (bitswap
 * sends empty messages forever for one that does not): see serving-blockstore.ts.
 */
export const MAX_SENT_MESSAGE = MAX_RAW_BLOCK + 64 * 1024
/** What we accept: bitswap's default, as other peers send it. */
const MAX_RECEIVED_MESSAGE = 4 * 1024 * 1024

/** The part of the bitswap block broker we use. */
export interface BitswapExchange {
  /** The block, hash-checked against `cid` by bitswap; rejects when `signal` aborts. */
  want(cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array>
  stop(): Promise<void>
}

interface Broker {
  retrieve(cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array>
  stop(): Promise<void>
}

/** Starts bitswap on `libp2p` (already started), serving blocks from `blockstore`. */
export async function startBitswap (libp2p: Libp2p<any>, blockstore: Blockstore): Promise<BitswapExchange> {
  let broker: Broker | undefined
  const mixins: HeliaMixin<any>[] = []
  const host = {
    status: 'starting',
    libp2p,
    blockstore,
    logger: libp2p.logger,
    // providers come from connected peers and our own DHT fallback, not per-want routing queries
    routing: { async * findProviders () {} },
    getHasher: (code: number) => {
      if (code === sha512.code) return sha512
      if (code === sha256.code) return sha256
      throw new Error(`unsupported hash 0x${code.toString(16)}`)
    },
    hasBlockBroker: () => broker !== undefined,
    addBlockBroker: (b: Broker) => { broker = b },
    addMixin: (mixin: HeliaMixin<any>) => { mixins.push(mixin) },
  }
  // A peer's queued send operations are dropped beyond this many, and with them the wants they
  // would have answered (the asker never re-sends): an install sends many wantlist updates
  // while blocks are being read, so allow plenty (an operation with nothing to send is free).
  withBitswap(host as any, { sendBlocksMaxQueueLength: 1024, maxOutgoingMessageSize: MAX_SENT_MESSAGE, maxIncomingMessageSize: MAX_RECEIVED_MESSAGE })
  for (const mixin of mixins) await mixin.start?.(host as any)
  const started = broker
  if (started === undefined) throw new Error('bitswap did not start')
  return {
    want: async (cid, options) => started.retrieve(cid, options),
    stop: async () => started.stop(),
  }
}
