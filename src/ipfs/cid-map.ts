/**
 * Integrity → CID maps as plain IPFS objects: how a node that speaks none of our protocols (Kubo,
 * Helia, IPFS Cluster) tells us which CID holds a tarball over 1 MiB, whose UnixFS root cannot be
 * derived from its integrity. A map is one dag-json or dag-cbor block:
 *
 *     { "npm-tarballs": { "<integrity, as in a lockfile>": <CID link>, … } }
 *
 * Why this shape:
 * - any IPFS node can make one with its own tools (`ipfs dag put`, Helia's `dagJson.add`) and
 *   serve it like any block, and we fetch it by CID over bitswap like any block;
 * - keys are what every npm user already has (the lockfile's `integrity`), so a map is made from a
 *   lockfile with no npm knowledge, and one map covers a whole project;
 * - values are IPLD links, so pinning the map (`ipfs pin add <map>`, an IPFS Cluster pin) pins every
 *   tarball it names: one CID is a seeder's whole pin set;
 * - one block (≤ 1 MiB, some 5,000 tarballs) needs no traversal and no trust beyond what it names:
 *   each tarball is hashed against its integrity after fetching, a wrong link costs one failed try.
 */
import type { PeerId } from '@libp2p/interface'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK } from './cid.ts'
import { hashesOf } from '../integrity.ts'

/** The one key of a map object. */
export const MAP_KEY = 'npm-tarballs'
/** Entries taken from one map; a block of 1 MiB holds some 5,000. */
const MAX_ENTRIES = 20_000

export interface CidMapEntry {
  integrity: string
  cid: CID
}

/** The entries of a map block; throws a one-line error when the block is no map. */
export function decodeCidMap (cid: CID, bytes: Uint8Array): CidMapEntry[] {
  let node: unknown
  try {
    if (cid.code === dagJson.code) node = dagJson.decode(bytes)
    else if (cid.code === dagCbor.code) node = dagCbor.decode(bytes)
    else throw new Error(`codec 0x${cid.code.toString(16)} is neither dag-json nor dag-cbor`)
  } catch (err) {
    throw new Error(`${cid} is not an integrity → CID map: ${(err as Error).message}`)
  }
  const map = (node as Record<string, unknown> | null)?.[MAP_KEY]
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${cid} is not an integrity → CID map: it has no "${MAP_KEY}" object`)
  const entries: CidMapEntry[] = []
  for (const [integrity, value] of Object.entries(map)) {
    const target = CID.asCID(value)
    // an entry we cannot use (no hash we know, not a link) is skipped, not the whole map
    if (target === null || hashesOf(integrity).length === 0) continue
    entries.push({ integrity, cid: target })
    if (entries.length === MAX_ENTRIES) break
  }
  return entries
}

/** Parses a `--cid-map` value: a CID, or `/ipfs/<CID>`. */
export function parseMapCid (value: string): CID {
  return CID.parse(value.replace(/^\/ipfs\//, ''))
}

export interface CidMapLoaderInit {
  blockstore: CacheBlockstore
  /** A block by CID from peers (bitswap), hash-checked. */
  want(cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array>
  /** DHT providers of a CID; dialling one makes bitswap ask it too. */
  findProviders(cid: CID, signal: AbortSignal): AsyncIterable<PeerId>
  dial(peer: PeerId, signal: AbortSignal): Promise<void>
  /** How long one map may take to arrive, in ms. */
  timeout: number
  log(msg: string): void
}

/** How many DHT providers of a map are dialled. */
const MAX_MAP_PROVIDERS = 3

/**
 * Fetches each map (from the cache, where a map fetched once is kept and served on, else from
 * peers) and hands its entries to `hint`. A map nobody has costs `timeout`, then is skipped.
 */
export async function loadCidMaps (init: CidMapLoaderInit, maps: readonly CID[], hint: (entry: CidMapEntry) => void, stop: AbortSignal): Promise<void> {
  await Promise.all(maps.map(async (cid) => {
    const signal = AbortSignal.any([stop, AbortSignal.timeout(init.timeout)])
    try {
      const bytes = await blockOf(init, cid, signal)
      if (bytes.byteLength > 4 * MAX_RAW_BLOCK) throw new Error('too large')
      const entries = decodeCidMap(cid, bytes)
      for (const entry of entries) hint(entry)
      init.log(`ipfs: map ${cid}: ${entries.length} tarballs`)
    } catch (err) {
      if (!stop.aborted) init.log(`ipfs: cannot use the integrity → CID map ${cid}: ${(err as Error).message}`)
    }
  }))
}

async function blockOf (init: CidMapLoaderInit, cid: CID, signal: AbortSignal): Promise<Uint8Array> {
  if (await init.blockstore.has(cid)) {
    for await (const bytes of init.blockstore.get(cid)) return bytes
  }
  const dialProviders = async (): Promise<void> => {
    let dialled = 0
    for await (const peer of init.findProviders(cid, signal)) {
      void init.dial(peer, signal).catch(() => {})
      if (++dialled === MAX_MAP_PROVIDERS) return
    }
  }
  void dialProviders().catch(() => {})
  const bytes = await init.want(cid, { signal })
  // kept so the next run needs no peer for it, and served on like any block we hold
  await Promise.resolve(init.blockstore.put(cid, bytes)).catch(() => {})
  return bytes
}
