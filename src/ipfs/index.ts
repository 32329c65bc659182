/**
 * The IPFS side of ipfs-npm — the only module the rest imports, and only lazily
 * (`await import('./ipfs/index.ts')`), so commands that need no peers never load libp2p.
 *
 * One node per process: libp2p (src/ipfs/libp2p.ts) + bitswap serving npm's cache as a blockstore
 * + the integrity → CID protocol, and a PeerFetcher over them. Integrity → CID maps
 * (cid-map.ts) are loaded once the configured peers are dialled; for `serve`, a seeder makes
 * every cached tarball servable to any IPFS node and provides it (seeder.ts, provide.ts).
 */
import type { PeerId } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { npmError, usageError } from '../errors.ts'
import type { PackumentLookup } from '../metadata/cached-packuments.ts'
import { createSignedIndexes, type SignedIndexes } from '../metadata/signed-index.ts'
import type { IpfsNpmOptions } from '../options.ts'
import { createSharingPolicy, type SharingPolicy } from '../sharing.ts'
import { ownVersion } from '../version.ts'
import { readSwarmKey } from '../swarm-key.ts'
import type { PeerFetcher, TarballRef } from '../types.ts'
import { startBitswap, type BitswapExchange } from './bitswap.ts'
import type { PeerShare } from './bitswap-wants.ts'
import { createCacheBlockstore } from './cache-blockstore.ts'
import { integrityOfCid, rawCidFromIntegrity } from './cid.ts'
import { createCidIndex } from './cid-index.ts'
import { loadCidMaps, parseMapCid } from './cid-map.ts'
import { createCidAsker, handleCidProtocol } from './cid-protocol.ts'
import { dialNamedPeer } from './dial-peer.ts'
import { fetchCidContent, parseTarballCid } from './fetch-cid.ts'
import { createFetcher } from './fetcher.ts'
import { createRecordTransport, refusingRecordTransport } from './ipns-transport.ts'
import { askPeersForPackument, handlePackumentProtocol, type PeerPackument } from './packument-protocol.ts'
import { createNodeLibp2p } from './libp2p.ts'
import { createLocalCids } from './local-cids.ts'
import { createPackageTarballs } from './package-tarballs.ts'
import { acquirePeerKey } from './peer-key.ts'
import { createProvideTarball } from './provide.ts'
import { startSeeder, type Seeder, type SeederStatus } from './seeder.ts'
import { createServable } from './servable.ts'
import { createServingBlockstore, type ServedCounts } from './serving-blockstore.ts'
import { sleep, untilAborted } from './sleep.ts'

export { parseTarballCid, tarballIntegrityOfCid, type CidContentError } from './fetch-cid.ts'
export { addTarball, cidOfTarball } from './add-tarball.ts'
export { parseIndexName } from '../metadata/signed-index.ts'

export interface IpfsNodeInit {
  /** npm's cache dir (the `cache` config); cacache lives in `${cacheDir}/_cacache`, node state in `${cacheDir}/_ipfs-npm/`. */
  cacheDir: string
  options: Pick<IpfsNpmOptions, 'peers' | 'listen' | 'mdns' | 'bootstrap' | 'peerTimeout' | 'swarmKey'> & Partial<Pick<IpfsNpmOptions, 'cidMaps'>>
  /** What we answer peers asking for packuments (npm's HTTP cache); none answered without it. */
  packuments?: PackumentLookup
  /**
   * `serve`: make every tarball in the cache servable to any IPFS node ahead of time (large
   * tarballs' DAGs built in the background) and provide them all. Default false: an install only
   * provides what it fetched.
   */
  seed?: boolean
  /**
   * Whether the node gives peers what npm's cache holds at all (bitswap, CID and packument
   * answers, provider records). Default true; the pipeline turns it off for installs unless asked
   * (`--serve`). `seed` without it seeds nothing.
   */
  serve?: boolean
  /**
   * What is private (src/sharing.ts); without a swarm key the node neither gives nor asks for
   * that. Default: what an npm config with no credentials says (only unknown origins are private).
   */
  sharing?: SharingPolicy
  /** Verbose log sink. */
  log?: (msg: string) => void
  /** What identify reports to peers; default `ipfs-npm/<this package's version>`. */
  agentVersion?: string
  /** What the user must hear, once (npm's `npm warn`): a configured peer that cannot be reached. Default: `log`. */
  warn?: (msg: string) => void
  /**
   * Whether `indexes` may be used: the node then runs gossipsub and fetch for their IPNS records
   * (ipns-transport.ts). Without, every connection is cheaper and `indexes` refuses to resolve or
   * publish. Default true; an install that reads no index and serves nothing turns it off.
   */
  indexRecords?: boolean
}

export interface NodeInfo {
  peerId: string
  /** Full multiaddrs, with `/p2p/<peerId>`. */
  addresses: string[]
  /** Ids of connected peers. */
  peers: string[]
  /** Blocks and bytes sent to peers so far. */
  served: ServedCounts
  /** With `seed`: tarballs made servable so far and still to do. */
  seeding?: SeederStatus
  /** The peers that sent us blocks over bitswap (while connected), with how many and how much. */
  receivedFrom: PeerShare[]
}

export interface IpfsNode {
  peers: PeerFetcher
  /** The CID that serves the tarball with `integrity` when we have it (a large one's DAG is built on demand). */
  cidOf(integrity: string, pkg: { name: string, version: string }): Promise<string | undefined>
  /** Asks every connected peer (once the LAN had its moment) for the packument of `name` as fetched from `registry`; each gets `timeout` ms to answer. */
  askPeers(name: string, registry: string, timeout: number): Promise<PeerPackument[]>
  /** Signed indexes over this node: blocks from npm's cache and peers, records over gossipsub and fetch. */
  indexes: SignedIndexes
  /**
   * The bytes a CID names (raw block or UnixFS file), from this node or its peers, checked against
   * the CID; rejects with a CidContentError (bad CID, wrong codec, nobody has it in time).
   */
  content(cid: string): Promise<Uint8Array>
  info(): NodeInfo
  /**
   * The cache gained `ref`'s tarball (`resolved`: the URL it stands for): offer it to peers if it
   * is public, or we are in a swarm (and build its DAG, with `seed`).
   */
  added(ref: TarballRef): void
  /** Stops everything; the process can exit right after. Idempotent. */
  stop(): Promise<void>
}

/**
 * The node could not start (a port in use, an address it cannot bind…): not a usage error, since
 * the options were checked already, but `EIPFSNODE`, with the cause's message on one line.
 */
const nodeStartError = (what: string, err: unknown): Error =>
  npmError('EIPFSNODE', `${what}: ${(err as Error).message.split('\n')[0]}`)

/** How long a node with mDNS and no peer yet waits for a first one before asking nobody (once). */
const FIRST_PEER_WAIT = 5000
/** How long a LAN gets to answer mDNS before the first fetch decides "no peers". */
const MDNS_GRACE = 300
/** How long stop waits for cache writes under way (a DAG built for an answer). */
const STOP_WRITES_WAIT = 10_000
/** How long we take to answer a CID question (may build a DAG from a big tarball). */
const ANSWER_TIMEOUT = 30_000

function parsePeers (peers: string[], what = 'peer'): Multiaddr[] {
  return peers.map((peer) => {
    try {
      return multiaddr(peer)
    } catch (err) {
      throw usageError(`invalid ${what} address "${peer}": ${(err as Error).message}`)
    }
  })
}

/** Starts the node: listening, serving the cache, dialling configured peers in the background. */
export async function createIpfsNode (init: IpfsNodeInit): Promise<IpfsNode> {
  const { options } = init
  const log = init.log ?? (() => {})
  const warn = init.warn ?? log
  const stateDir = join(init.cacheDir, '_ipfs-npm')
  const cachePath = join(init.cacheDir, '_cacache')
  const configuredPeers = parsePeers(options.peers)
  parsePeers(options.bootstrap.filter((address) => address !== 'public'), 'bootstrap')
  const maps = (options.cidMaps ?? []).map((value) => {
    try {
      return parseMapCid(value)
    } catch (err) {
      throw usageError(`invalid integrity → CID map "${value}": ${(err as Error).message}`)
    }
  })
  const psk = options.swarmKey === undefined ? undefined : await readSwarmKey(options.swarmKey)
  const key = await acquirePeerKey(stateDir)
  if (!key.persisted) log('ipfs: another process uses this cache\'s peer id; using an ephemeral one')

  const dropped = new Set<string>()
  const stopController = new AbortController()
  const serve = init.serve ?? true
  const libp2p = await createNodeLibp2p({
    lanDhtServer: serve,
    indexRecords: init.indexRecords,
    privateKey: key.privateKey,
    listen: options.listen,
    mdns: options.mdns,
    bootstrap: options.bootstrap,
    psk,
    isDenied: (peer) => dropped.has(peer.toString()),
    agentVersion: init.agentVersion ?? `ipfs-npm/${ownVersion()}`,
    // a user who gives peers more time gives their handshakes as much
    handshakeTimeout: options.peerTimeout,
  }).catch(async (err: Error) => {
    await key.release()
    throw nodeStartError('cannot set up the IPFS node', err)
  })

  // The DHT can only tell us about peers beyond the ones we are connected to (and already asked):
  // on a LAN where mDNS connected everyone, a lookup or an announcement would only cost time.
  const amino = (): boolean => (libp2p.services.aminoDHT?.routingTable.size ?? 0) > 0
  // the connected peers kept by events (as libp2p keys its connections: a disconnect of a peer it
  // never counted is a no-op here too): lan() is asked for every CID answer, and listing the
  // peers each time took 12% of a serving peer's main thread under 20 fetchers
  const connectedPeers = new Set(libp2p.getPeers().map(String))
  libp2p.addEventListener('peer:connect', (evt) => { connectedPeers.add(String(evt.detail)) })
  libp2p.addEventListener('peer:disconnect', (evt) => { connectedPeers.delete(String(evt.detail)) })
  const lan = (): boolean => libp2p.services.lanDHT.routingTable.size > connectedPeers.size
  const hasDhtPeers = (): boolean => amino() || lan()

  const blockstore = createCacheBlockstore({ cachePath })
  const index = createCidIndex(join(stateDir, 'cids'))
  const served: ServedCounts = { blocks: 0, bytes: 0 }
  const servable = createServable({ cachePath, blockstore, index, sharing: init.sharing ?? createSharingPolicy({ flat: {} }), serve, inSwarm: psk !== undefined })
  // a want for a large tarball's raw CID comes first (the CID question waits its head start):
  // its DAG's build starts then, as the question's would, gated the same (localCids.lookup)
  const serving = createServingBlockstore(blockstore, servable, served, (cid) => {
    const integrity = integrityOfCid(cid)
    if (integrity !== undefined && !stopController.signal.aborted) void localCids.lookup(integrity).then(allowed).catch(() => {})
  })
  const localCids = createLocalCids({
    cachePath,
    blockstore,
    index,
    packageTarballs: createPackageTarballs(cachePath),
    profileIndex: createCidIndex(join(stateDir, 'profile-cids')),
    // named to peers, put in an index's dist.cid or provided only if it is ours to share
    mayName: servable.content,
  })
  /** A CID localCids gave for content it allowed: its blocks (a DAG's, an alias) go out too. */
  const allowed = async (cid: CID | undefined): Promise<CID | undefined> => {
    if (cid !== undefined) await servable.allow(cid)
    return cid
  }
  const provideTarball = createProvideTarball({
    canProvide: () => !stopController.signal.aborted && hasDhtPeers(),
    servable: async (cid) => serving.has(cid),
    async provide (cid) {
      // each DHT that has someone to tell, on its own: a DHT with no peers would hold up the other
      const dhts = [amino() ? libp2p.services.aminoDHT : undefined, lan() ? libp2p.services.lanDHT : undefined].filter((dht) => dht !== undefined)
      if (stopController.signal.aborted || dhts.length === 0) return false
      await Promise.all(dhts.map(async (dht) => {
        for await (const event of dht.provide(cid, { signal: stopController.signal })) void event
      }))
      return true
    },
    log,
  })
  let bitswap: BitswapExchange | undefined
  let seeder: Seeder | undefined
  try {
    await libp2p.start()
    const exchange = bitswap = await startBitswap(libp2p, serving, { log })
    // the sharing verdicts, read now rather than on a peer's first ask (which waited 0.2-1.8 s for
    // them under load); in the background: the node is up meanwhile, asks wait only for what is missing
    if (serve) void servable.warm()
    // a node that does not serve does not speak these protocols: to an asker it is a node without them
    if (serve) {
      await handleCidProtocol(libp2p, async (integrity, pkg) => {
        const cid = await allowed(await localCids.lookup(integrity, pkg))
        // a peer asked for something we have: cheap moment to announce it beyond our connections
        if (cid !== undefined) provideTarball(integrity, cid)
        return cid
      }, ANSWER_TIMEOUT, log)
      if (init.packuments !== undefined) await handlePackumentProtocol(libp2p, init.packuments, ANSWER_TIMEOUT, log)
    }
    if (serve && init.seed === true) {
      seeder = startSeeder({
        cachePath,
        prepare: async (integrity) => allowed(await localCids.prepare(integrity, true)),
        alsoAs: async (integrity) => allowed(await localCids.profileCid(integrity)),
        provideTarball,
        announce: (cid) => exchange.announce(cid),
        signal: stopController.signal,
        log,
      })
      // the DHT may have had no one to tell at start: a peer joining its routing table is a new
      // chance (the table emits events, though its public type does not say so)
      const onDhtPeer = debounce(() => seeder?.reprovide(), 1000, stopController.signal)
      for (const dht of [libp2p.services.lanDHT, libp2p.services.aminoDHT]) {
        (dht?.routingTable as Partial<EventTarget> | undefined)?.addEventListener?.('peer:add', onDhtPeer)
      }
    }
  } catch (err) {
    await bitswap?.stop()
    await libp2p.stop()
    await key.release()
    throw nodeStartError('cannot start the IPFS node', err)
  }

  // libp2p reports peers found by mDNS or the LAN DHT but does not connect to them by itself. Only
  // peers with a LAN address are dialled: the public DHT would hand us hundreds.
  libp2p.addEventListener('peer:discovery', (evt) => {
    const peer = evt.detail.id
    if (stopController.signal.aborted || dropped.has(peer.toString()) || libp2p.getConnections(peer).length > 0) return
    if (!evt.detail.multiaddrs.some((address) => isPrivate(address))) return
    libp2p.dial(peer, { signal: AbortSignal.any([stopController.signal, AbortSignal.timeout(options.peerTimeout)]) })
      .then(() => log(`ipfs: connected to LAN peer ${peer}`), (err: Error) => log(`ipfs: LAN peer ${peer}: ${err.message}`))
  })
  // one line per peer connection, for serve's verbose log
  libp2p.addEventListener('peer:connect', (evt) => log(`ipfs: peer ${evt.detail} connected`))
  libp2p.addEventListener('peer:disconnect', (evt) => log(`ipfs: peer ${evt.detail} disconnected`))
  const dials = configuredPeers.map(async (address) => {
    // without /p2p/ there is no identity to hold the node at that address to: whoever answers is believed
    if (address.getComponents().every((component) => component.name !== 'p2p')) warn(`--peer ${address} has no /p2p/<peer id>: whichever node answers there is taken for the peer`)
    try {
      await dialNamedPeer(libp2p, address, options.peerTimeout, stopController.signal)
      log(`ipfs: connected to ${address}`)
    } catch (err) {
      warn(`cannot reach --peer ${address}: ${(err as Error).message}; going on without it`)
    }
  })
  const findProviders = async function * (cid: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
    if (!hasDhtPeers()) return
    try {
      for await (const provider of libp2p.contentRouting.findProviders(cid, { signal })) yield provider.id
    } catch (err) {
      if (!signal.aborted) log(`ipfs: DHT providers of ${cid}: ${(err as Error).message}`)
    }
  }
  const connected = Promise.all([...dials, options.mdns ? sleep(MDNS_GRACE, stopController.signal) : undefined])
  // the maps come from the peers just dialled; every fetch waits for them (a large tarball's only way in)
  const ready = connected.then(async () => loadCidMaps({
    blockstore,
    want: async (cid, { signal }) => bitswap.want(cid, { signal }),
    findProviders,
    dial: async (peer, signal) => { await libp2p.dial(peer, { signal }) },
    timeout: Math.max(options.peerTimeout, 5000),
    log,
  }, maps, ({ integrity, cid }) => peers.hint?.(integrity, cid.toString()), stopController.signal))

  /** The first connection made from now on. */
  const nextConnect = new Promise<void>((resolve) => libp2p.addEventListener('peer:connect', () => resolve(), { once: true }))
  // fetches need not wait for the slowest dial nor the mDNS grace (300 ms of every install with
  // peers, by default): the first peer connected takes wants at once. With integrity → CID maps
  // every fetch waits for them: they name large tarballs' roots.
  const firstConnected: Promise<void> = maps.length > 0
    ? ready
    : Promise.race([ready, libp2p.getConnections().length > 0 ? Promise.resolve() : nextConnect])

  // with mDNS, a peer may take longer than its grace to appear on a loaded host: asks made while
  // nobody is connected wait for a first peer, once per node, up to FIRST_PEER_WAIT
  const firstPeer: Promise<void> = !options.mdns
    ? Promise.resolve()
    : untilAborted(nextConnect, AbortSignal.any([AbortSignal.timeout(FIRST_PEER_WAIT), stopController.signal]))
  const peersOrNone = async (): Promise<void> => {
    await ready
    if (libp2p.getPeers().length === 0) await firstPeer
  }

  const fetcher = createFetcher({
    libp2p,
    bitswap,
    asker: createCidAsker(libp2p, options.peerTimeout),
    blockstore,
    index,
    keepBlocks: serve,
    peerTimeout: options.peerTimeout,
    ready,
    connected: firstConnected,
    stopSignal: stopController.signal,
    async drop (peer: PeerId) {
      dropped.add(peer.toString())
      await libp2p.hangUp(peer).catch(() => {})
    },
    isDropped: (peer) => dropped.has(peer.toString()),
    findProviders,
    log,
  })
  const peers: PeerFetcher = {
    ...fetcher,
    async fetch (ref) {
      // outside a swarm a want, a question or a DHT lookup would tell strangers what we install
      if (!servable.mayAsk(ref)) return undefined
      const bytes = await fetcher.fetch(ref)
      if (bytes !== undefined) servable.learn(ref)
      return bytes
    },
  }

  const { pubsub, fetch: fetchService } = libp2p.services
  const indexes = createSignedIndexes({
    stateDir,
    log,
    blocks: {
      async get (cid, { timeout }) {
        try {
          for await (const bytes of blockstore.get(cid)) return bytes
        } catch {}
        await ready
        return bitswap.want(cid, { signal: AbortSignal.any([AbortSignal.timeout(timeout), stopController.signal]) })
      },
      async put ({ cid, bytes }) {
        await blockstore.putShared(cid, bytes)
        // servable at once (the mark on disk counts from the next read of the cache index)
        await servable.allow(cid)
      },
    },
    records: pubsub !== undefined && fetchService !== undefined ? createRecordTransport({ libp2p, pubsub, fetch: fetchService, ready: peersOrNone, log }) : refusingRecordTransport(),
  }, { timeout: options.peerTimeout })

  let stopping: Promise<void> | undefined
  return {
    peers,
    indexes,
    async cidOf (integrity, pkg) {
      return (await localCids.lookup(integrity, pkg))?.toString()
    },
    async askPeers (name, registry, timeout) {
      // startup, dialling and the wait for a first peer do not eat the time peers get to answer
      await peersOrNone()
      return askPeersForPackument(libp2p, name, registry, AbortSignal.timeout(timeout))
    },
    async content (text) {
      const cid = parseTarballCid(text)
      await ready
      return fetchCidContent(cid, {
        want: async (block, { signal }) => bitswap.want(block, { signal }),
        blockstore,
        index,
        peerTimeout: options.peerTimeout,
        arrived: () => bitswap.arrived(),
        connectedPeers: () => libp2p.getPeers().length,
        stopSignal: stopController.signal,
      })
    },
    info: () => ({
      peerId: libp2p.peerId.toString(),
      addresses: libp2p.getMultiaddrs().map(String),
      peers: libp2p.getPeers().map(String),
      served: { ...served },
      ...(seeder === undefined ? {} : { seeding: seeder.status() }),
      receivedFrom: bitswap.shares().filter((share) => share.blocks > 0),
    }),
    added (ref) {
      // a node that serves nothing has nobody to offer it to
      if (stopController.signal.aborted || !serve) return
      // its verdict now: the cache index entry just written is not in our last read of the index
      servable.learn(ref)
      const { integrity } = ref
      if (seeder !== undefined) {
        seeder.added(integrity)
        return
      }
      const sha512 = rawCidFromIntegrity(integrity) === undefined ? undefined : integrity.split(/\s+/).find((hash) => hash.startsWith('sha512-'))
      if (sha512 === undefined) return
      localCids.prepare(sha512, false).then(allowed).then((cid) => { if (cid !== undefined) provideTarball(integrity, cid) }, () => {})
    },
    stop () {
      stopping ??= (async () => {
        stopController.abort()
        await bitswap.stop()
        await libp2p.stop()
        // a DAG built for an answer is written after it: done before stop returns (a caller may
        // remove the cache next), unless the disk takes longer than a stop should
        await untilAborted(localCids.settled(), AbortSignal.timeout(STOP_WRITES_WAIT))
        clearAddressDebounce(libp2p)
        await key.release()
      })()
      return stopping
    },
  }
}

/** `fn` once `ms` after the last of a burst of calls. */
function debounce (fn: () => void, ms: number, signal: AbortSignal): () => void {
  let timer: NodeJS.Timeout | undefined
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  return () => {
    clearTimeout(timer)
    if (!signal.aborted) timer = setTimeout(fn, ms).unref()
  }
}

/**
 * libp2p's address manager re-arms a 1 s debounce timer when its transports close on stop and
 * never clears it, which kept a finished `ipfs-npm ci` alive for an extra second.
 */
function clearAddressDebounce (libp2p: object): void {
  const internals = libp2p as { components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } } }
  internals.components?.addressManager?._updatePeerStoreAddresses?.stop?.()
}
