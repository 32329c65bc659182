/**
 * The hand-picked libp2p: TCP, Noise, Yamux, identify, ping (the DHT needs it), a LAN Kademlia DHT,
 * mDNS, gossipsub and fetch (how signed indexes' IPNS records travel; only on a node that uses
 * indexes), and — only when asked for —
 * bootstrap peers with the public (amino) DHT and a private network swarm key. No WebRTC, relays, UPnP, gateways or delegated routing. The datastore is
 * libp2p's in-memory default, so processes sharing a cache never fight over a repo lock.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { fetch, type Fetch } from '@libp2p/fetch'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { createLibp2p } from 'libp2p'
import { noiseWithoutFrameCopies } from './noise-frames.ts'
import { createSocketReads } from './socket-reads.ts'
import { yamuxWithFewerWindowUpdates } from './yamux-windows.ts'

/**
 * The public Amino DHT's bootstrap peers, as Kubo and Helia ship them; what `--bootstrap` with no
 * address (or `bootstrap = public`) joins.
 */
export const PUBLIC_BOOTSTRAP = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ',
]

export interface Libp2pInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on; empty: an ephemeral TCP port on all IPv4 interfaces. */
  listen: string[]
  mdns: boolean
  /** Amino DHT bootstrap multiaddrs (`public`: PUBLIC_BOOTSTRAP); non-empty turns the Amino DHT on. */
  bootstrap: string[]
  /** The swarm key file's bytes (private network), if any. */
  psk?: Uint8Array
  /** Peers never to dial or accept (caught lying) for the life of the node. */
  isDenied(peer: PeerId): boolean
  /** What identify tells peers we run, `<name>/<version>`; default libp2p's own. */
  agentVersion?: string
  /**
   * Whether we answer LAN DHT queries (and so enter other peers' routing tables). A node that
   * serves nothing (an install) only asks: short-lived, it would leave behind routing-table entries
   * that every later query of the serving peers dials in vain. Default true.
   */
  lanDhtServer?: boolean
  /**
   * How long dialling an address (TCP, Noise, yamux) and accepting a connection may take at least:
   * a loaded peer or host is slow, not gone. Never below libp2p's own bounds (6 s and 10 s).
   */
  handshakeTimeout?: number
  /**
   * Whether the node runs gossipsub and fetch, how signed indexes' IPNS records travel
   * (ipns-transport.ts). A node that never reads, serves or publishes an index (a plain install)
   * leaves them off: gossipsub opens a stream on every connection and exchanges subscriptions
   * and heartbeats with each peer for nothing. Default true.
   */
  indexRecords?: boolean
}

/** The services our node runs; `pubsub` and `fetch` only with index records, `aminoDHT` only with bootstrap peers. */
export interface NodeServices {
  identify: unknown
  ping: unknown
  pubsub?: GossipSub
  fetch?: Fetch
  lanDHT: SingleKadDHT
  aminoDHT?: SingleKadDHT
  [name: string]: unknown
}

/** Creates (does not start) the libp2p node. */
export async function createNodeLibp2p (init: Libp2pInit): Promise<Libp2p<NodeServices>> {
  // signed indexes' IPNS records may be stored in either DHT: check them, keep the newest
  const records = { validators: { ipns: ipnsValidator }, selectors: { ipns: ipnsSelector } }
  const services: Record<string, (components: any) => unknown> = {
    identify: identify(),
    ping: ping(),
    // on a LAN every address is private: keep only those
    lanDHT: kadDHT({
      protocol: '/ipfs/lan/kad/1.0.0',
      peerInfoMapper: removePublicAddressesMapper,
      clientMode: init.lanDhtServer === false,
      logPrefix: 'libp2p:dht-lan',
      datastorePrefix: '/dht-lan',
      metricsPrefix: 'libp2p_dht_lan',
      ...records,
    }),
  }
  if (init.indexRecords !== false) {
    // index records are announced to whoever listens, even before a mesh has formed
    services.pubsub = gossipsub({ allowPublishToZeroTopicPeers: true })
    services.fetch = fetch()
  }
  const bootstrapList = init.bootstrap.flatMap((address) => address === 'public' ? PUBLIC_BOOTSTRAP : [address])
  if (bootstrapList.length > 0) {
    // The Amino DHT as any IPFS node runs it: public addresses only, a client until our own
    // addresses are public, then a server. An Amino network whose bootstrap peers all have private
    // addresses (a LAN's or a lab's own) keeps private addresses, and we serve it from the start.
    const privateNetwork = bootstrapList.every((address) => isPrivate(multiaddr(address)))
    services.aminoDHT = kadDHT({
      protocol: '/ipfs/kad/1.0.0',
      peerInfoMapper: privateNetwork ? passthroughMapper : removePrivateAddressesMapper,
      ...(privateNetwork ? { clientMode: false } : {}),
      ...records,
    })
  }
  const peerDiscovery = [
    ...(init.mdns ? [mdns()] : []),
    ...(bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : []),
  ]
  const psk = init.psk
  const reads = createSocketReads()
  return createLibp2p({
    privateKey: init.privateKey,
    start: false,
    // libp2p would report its own name and version (`libp2p/3.x`) unless told ours
    ...(init.agentVersion === undefined ? {} : { nodeInfo: { name: init.agentVersion.split('/')[0], version: init.agentVersion.split('/')[1], userAgent: init.agentVersion } }),
    // libp2p refuses a host's 6th connection within a second; on loopback the "host" is every
    // ipfs-npm process on this machine (parallel CI jobs beside one `serve`), so it is exempt
    connectionManager: {
      allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'],
      addressDialTimeout: Math.max(6000, init.handshakeTimeout ?? 0),
      inboundUpgradeTimeout: Math.max(10_000, init.handshakeTimeout ?? 0),
    },
    addresses: { listen: init.listen.length > 0 ? init.listen : ['/ip4/0.0.0.0/tcp/0'] },
    // (@libp2p/tcp passes dialOpts on to net.connect as they are; its type lists only some)
    transports: [tcp({ dialOpts: reads.dialOptions as TCPSocketOptions })],
    connectionEncrypters: [noiseWithoutFrameCopies({ onSecured: (connection) => reads.secured(connection) })],
    streamMuxers: [yamuxWithFewerWindowUpdates()],
    ...(psk === undefined ? {} : { connectionProtector: preSharedKey({ psk }) }),
    peerDiscovery,
    connectionGater: {
      denyDialPeer: (peer) => init.isDenied(peer),
      denyInboundEncryptedConnection: (peer) => init.isDenied(peer),
      denyOutboundEncryptedConnection: (peer) => init.isDenied(peer),
    },
    services,
  }) as Promise<Libp2p<NodeServices>>
}
