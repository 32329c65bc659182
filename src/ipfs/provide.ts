/**
 * Provider records (the DHT's "who has this CID") for tarballs — only for CIDs this node actually
 * serves. A record for a CID we would not answer (the raw sha2-512 CID of a tarball over 1 MiB,
 * which travels as a UnixFS DAG; a DAG root whose blocks are not written yet) sends every IPFS
 * node that trusts the DHT to a peer that stalls it. Every announcement goes through this one
 * function, so a policy on what may be announced at all (private packages) wraps it in one place.
 */
import type { CID } from 'multiformats/cid'

/** Queues the announcement that we serve `cid`, the tarball with `integrity`; never throws, never waits. */
export type ProvideTarball = (integrity: string, cid: CID) => void

export interface ProvideTarballInit {
  /** Whether a DHT has peers to tell now; cheap, asked first (serve offers everything again every minute). */
  canProvide(): boolean
  /** Whether our bitswap would hand this block to a peer that wants it (the serving blockstore's `has`). */
  servable(cid: CID): Promise<boolean>
  /** Puts the provider record; false when there was no DHT to tell after all. */
  provide(cid: CID): Promise<boolean>
  log(msg: string): void
}

/**
 * @example
 * const provideTarball = createProvideTarball({ canProvide: () => dhtHasPeers(), servable: (cid) => serving.has(cid), provide, log })
 * provideTarball(integrity, root)
 */
export function createProvideTarball (init: ProvideTarballInit): ProvideTarball {
  /** CIDs announced by this node already: a record lasts hours, the DHT refreshes it itself. */
  const provided = new Set<string>()
  /**
   * One announcement at a time. Each is a DHT query that dials the closest peers known — on a LAN
   * of short-lived peers (a class, a CI fleet) mostly ones long gone — and hundreds started at once
   * crowded out the transfers they announce: a bench peer serving a few fetchers spent ~300 ms of
   * CPU per MB served on them instead of ~40 (bench/README.md, "Peer transfer").
   */
  let queue: Promise<void> = Promise.resolve()
  return (integrity, cid) => {
    const key = cid.toString()
    if (provided.has(key) || !init.canProvide()) return
    provided.add(key)
    queue = queue.then(async () => {
      if (!await init.servable(cid)) {
        provided.delete(key)
        init.log(`ipfs: not providing ${cid} for ${integrity}: not a block we serve`)
        return
      }
      if (!await init.provide(cid)) provided.delete(key)
    }).catch((err: Error) => {
      provided.delete(key)
      init.log(`ipfs: providing ${cid}: ${err.message}`)
    })
  }
}
