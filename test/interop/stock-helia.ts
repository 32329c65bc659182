/**
 * A stock Helia node, configured as an IPFS user would for a closed network: `helia`'s own
 * createHeliaLight + @helia/libp2p's withLibp2pLight + @helia/bitswap, with TCP, Noise, Yamux and
 * identify only (plus, when asked, the Amino DHT `/ipfs/kad/1.0.0` as a client) — no public
 * bootstrap, no WebRTC, no HTTP gateways, so it dials nothing it is not told to. No ipfs-npm code
 * runs on its side: what it does with our tarballs is what any IPFS node would do.
 */
import { withBitswap } from '@helia/bitswap'
import { dagJson } from '@helia/dag-json'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs, type UnixFS } from '@helia/unixfs'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'

export interface StockHelia {
  helia: any
  fs: UnixFS
  /** Its listening address, with `/p2p/`. */
  address: string
  /** `ipfs block put --cid-codec=raw --mhtype=sha2-512`: a small tarball under the CID its integrity names. */
  putRaw(bytes: Uint8Array): Promise<CID>
  /** `ipfs add` with the unixfs-v1-2025 profile (@helia/unixfs's defaults are that profile). */
  add(bytes: Uint8Array): Promise<CID>
  /** `ipfs dag put --store-codec=dag-json`. */
  putDagJson(value: unknown): Promise<CID>
  dial(address: string): Promise<void>
  /** The agent version a peer reported over identify. */
  agentOf(peerId: string): Promise<string | undefined>
  stop(): Promise<void>
}

export interface StockHeliaInit {
  /** Amino DHT (`/ipfs/kad/1.0.0`) bootstrap peers; none: no DHT at all. */
  dht?: string[]
  /** Run the DHT in server mode (a node of the local DHT) rather than as a client. */
  dhtServer?: boolean
}

export async function startStockHelia (init: StockHeliaInit = {}): Promise<StockHelia> {
  const dht = init.dht !== undefined
  const helia: any = withBitswap(withLibp2pLight(createHeliaLight({ hashers: [sha256, sha512] }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // loopback is the whole network here: keep private addresses (the public DHT strips them)
    peerDiscovery: dht && init.dht!.length > 0 ? [bootstrap({ list: init.dht! })] : [],
    services: {
      identify: identify(),
      ...(dht ? { ping: ping(), aminoDHT: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: init.dhtServer !== true, peerInfoMapper: passthroughMapper }) } : {}),
    },
  } as any))
  await helia.start()
  const fs = unixfs(helia)
  const json = dagJson(helia)
  return {
    helia,
    fs,
    address: helia.libp2p.getMultiaddrs()[0].toString(),
    async putRaw (bytes) {
      const cid = CID.createV1(raw.code, await sha512.digest(bytes))
      await helia.blockstore.put(cid, bytes)
      return cid
    },
    add: async (bytes) => fs.addBytes(bytes),
    putDagJson: async (value) => json.add(value),
    async dial (address) {
      await helia.libp2p.dial(multiaddr(address))
    },
    async agentOf (peerId) {
      const peer = await helia.libp2p.peerStore.get(helia.libp2p.getPeers().find((p: any) => p.toString() === peerId))
      const agent = peer.metadata.get('AgentVersion')
      return agent === undefined ? undefined : new TextDecoder().decode(agent)
    },
    stop: async () => helia.stop(),
  }
}
