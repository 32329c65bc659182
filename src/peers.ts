/**
 * The IPFS side, started on first need, once, here. Nothing of Helia or libp2p is imported until
 * something is actually missing, so a warm install, and every passthrough command, costs nothing
 * extra (DESIGN: "the node is started only if something is missing"). In an install, the
 * resolver decides when tarballs need it (`TarballResolver.missing`, and a fetch that misses the
 * cache); commands that need the node itself ask for it with `node()`.
 */
import type { IpfsNpmOptions } from './options.ts'
import type { LazyPeers, PeerFetcher } from './types.ts'
import type { IpfsNode } from './ipfs/index.ts'
import type { PackumentLookup } from './metadata/cached-packuments.ts'
import type { SharingPolicy } from './sharing.ts'

export interface LazyPeersInit {
  /** npm's cache dir (the `cache` config): node state lives in `<cache>/_ipfs-npm/`. */
  cacheDir: string
  options: IpfsNpmOptions
  /** npm's `--offline`: the cache only, no peers. */
  offline: boolean
  /** What the node answers peers asking for packuments. */
  packuments?: PackumentLookup
  /** `serve`: the node seeds the whole cache (see IpfsNodeInit.seed). */
  seed?: boolean
  /** Whether the node gives peers what the cache holds (src/ipfs/servable.ts); see IpfsNodeInit. */
  serve?: boolean
  /** What is private; the node neither gives nor asks for that outside a swarm. See IpfsNodeInit. */
  sharing?: SharingPolicy
  /** Whether the node's signed indexes may be used (IpfsNodeInit.indexRecords); default true. */
  indexRecords?: boolean
  log: (message: string) => void
  /** What the user must hear once (a configured peer that cannot be reached); default: `log`. */
  warn?: (message: string) => void
}

/**
 * @example
 * const peers = createLazyPeers({ cacheDir, options, offline: false, log })
 * const fetcher = await peers.get() // starts the node now, once
 */
export function createLazyPeers (init: LazyPeersInit): LazyPeers {
  let starting: Promise<IpfsNode | undefined> | undefined
  // `dist.cid` hints seen before the node starts; they must not start it themselves
  const hints = new Map<string, string>()

  const { peers, mdns, bootstrap } = init.options
  const findsPeers = peers.length > 0 || mdns || bootstrap.length > 0

  const node = (): Promise<IpfsNode | undefined> => {
    if (init.offline) return Promise.resolve(undefined)
    starting ??= import('./ipfs/index.ts').then(async ({ createIpfsNode }) => {
      const started = await createIpfsNode({ cacheDir: init.cacheDir, options: init.options, packuments: init.packuments, seed: init.seed, serve: init.serve, sharing: init.sharing, indexRecords: init.indexRecords, log: init.log, warn: init.warn })
      for (const [integrity, cid] of hints) started.peers.hint?.(integrity, cid)
      hints.clear()
      return started
    })
    return starting
  }

  return {
    node,
    hint (integrity, cid) {
      if (starting === undefined) hints.set(integrity, cid)
      else void starting.then((started) => started?.peers.hint?.(integrity, cid), () => {})
    },
    /** The cache gained a tarball: the node, if running, offers it to peers (none is started for it). */
    added (ref) {
      void starting?.then((started) => started?.added(ref), () => {})
    },
    get started () {
      return starting !== undefined
    },
    async get (): Promise<PeerFetcher | undefined> {
      // no peer named, no mDNS, no DHT and not serving: nobody could connect, so there is nobody
      // to ask, and starting the node would only hold the first registry fetches back
      if (!findsPeers && !init.serve && !init.seed) return undefined
      return (await node())?.peers
    },
    async stop () {
      const started = await starting?.catch(() => undefined)
      await started?.stop()
    },
  }
}
