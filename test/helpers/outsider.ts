/**
 * A stranger on the network, for the privacy tests: a plain libp2p node (TCP, Noise, Yamux, a LAN
 * DHT in server mode; no ipfs-npm serving) that asks a peer every way a block or a fact about one
 * can be asked for — bitswap 1.2.0 messages written and read one by one on the wire (so HAVE /
 * DONT_HAVE answers are seen as sent, not as a client's engine digests them; the codec is the
 * standard message of src/ipfs/bitswap-message.ts), the integrity → CID question, and DHT
 * provider records.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { decodeMessage, DONT_HAVE, encodeMessage, WANT_BLOCK, WANT_HAVE } from '../../src/ipfs/bitswap-message.ts'
import { rawCidOf } from '../../src/ipfs/cid.ts'
import { createCidAsker, type CidAnswer } from '../../src/ipfs/cid-protocol.ts'
import { createNodeLibp2p, type NodeServices } from '../../src/ipfs/libp2p.ts'
import type { TarballRef } from '../../src/types.ts'

const BITSWAP = '/ipfs/bitswap/1.2.0'

/** What a peer sent back about one CID over bitswap. */
export interface BitswapReply {
  presence?: 'have' | 'dont-have'
  block?: Uint8Array
}

interface KadMessage { type: string, key?: Uint8Array }
/** @libp2p/kad-dht's protobuf codec (not exported by the package, so loaded by path). */
async function loadKadPb (): Promise<{ Message: { encode(message: object): Uint8Array, decode(bytes: Uint8Array): KadMessage } }> {
  return await import(new URL('../../node_modules/@libp2p/kad-dht/dist/src/message/dht.js', import.meta.url).href) as { Message: { encode(message: object): Uint8Array, decode(bytes: Uint8Array): KadMessage } }
}

const LAN_DHT = '/ipfs/lan/kad/1.0.0'

export interface Outsider {
  libp2p: Libp2p<NodeServices>
  dial(address: string): Promise<PeerId>
  /** The integrity → CID question, as ipfs-npm peers ask it. */
  ask(peer: PeerId, ref: TarballRef): Promise<CidAnswer>
  /**
   * Sends `peer` one wantlist (want-have or want-block, with send-dont-have) and collects what
   * comes back by CID, until every CID has an answer of the kind asked for or `ms` have passed.
   */
  want(peer: PeerId, cids: CID[], type: 'have' | 'block', ms: number): Promise<Map<string, BitswapReply>>
  /** The peer ids the DHT names as providers of `cid` within `ms`. */
  providers(cid: CID, ms: number): Promise<string[]>
  /**
   * With `recordDht`: the multihashes (base64) of every provider record peers sent us. The node
   * answers the LAN DHT protocol by hand (no closer peers, no providers) and keeps every
   * ADD_PROVIDER — whatever its key, which @libp2p/kad-dht's own handler would refuse for a
   * sha2-512 CID before storing it.
   */
  providerRecords: Set<string>
  stop(): Promise<void>
}

/** Starts a stranger listening on loopback, with the swarm key's bytes if given. */
export async function startOutsider (init: { psk?: Uint8Array, recordDht?: boolean } = {}): Promise<Outsider> {
  const libp2p = await createNodeLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    bootstrap: [],
    psk: init.psk,
    isDenied: () => false,
  })
  await libp2p.start()
  const asker = createCidAsker(libp2p, 5000)

  // a bitswap peer answers on a stream of its own: every message that arrives is kept here
  const replies = new Map<string, BitswapReply>()
  await libp2p.handle(BITSWAP, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
    try {
      for (;;) {
        const message = decodeMessage((await lp.read()).subarray())
        for (const presence of message.presences) {
          const key = presence.cid.toString()
          replies.set(key, { ...replies.get(key), presence: presence.type === DONT_HAVE ? 'dont-have' : 'have' })
        }
        for (const block of message.blocks) {
          // the tests ask for raw sha2-512 blocks only
          const data = block.data.subarray()
          const key = rawCidOf(data).toString()
          replies.set(key, { ...replies.get(key), block: data })
        }
      }
    } catch {
      // the sender closed its stream
    }
  }, { runOnLimitedConnection: false })

  const providerRecords = new Set<string>()
  if (init.recordDht === true) {
    const kad = await loadKadPb()
    await libp2p.unhandle(LAN_DHT)
    await libp2p.handle(LAN_DHT, async (stream) => {
      const lp = lpStream(stream)
      try {
        for (;;) {
          const message = kad.Message.decode((await lp.read()).subarray())
          if (message.type === 'ADD_PROVIDER') {
            if (message.key !== undefined) providerRecords.add(Buffer.from(message.key).toString('base64'))
            continue
          }
          await lp.write(kad.Message.encode({ type: message.type, key: message.key, closer: [], providers: [] }))
        }
      } catch {
        // the sender closed its stream
      }
    })
  }

  return {
    libp2p,
    providerRecords,
    async dial (address) {
      const connection = await libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(5000) })
      return connection.remotePeer
    },
    ask: async (peer, ref) => asker.ask(peer, ref.integrity, { name: ref.name, version: ref.version }, AbortSignal.timeout(10_000)),
    async want (peer, cids, type, ms) {
      for (const cid of cids) replies.delete(cid.toString())
      const stream = await libp2p.dialProtocol(peer, BITSWAP, { signal: AbortSignal.timeout(5000) })
      // encodeMessage gives the length-prefixed wire form
      if (!stream.send(encodeMessage({ wants: cids.map((cid) => ({ cid, cancel: false, wantType: type === 'have' ? WANT_HAVE : WANT_BLOCK, sendDontHave: true })), blocks: [], presences: [] }))) await stream.onDrain()
      const deadline = Date.now() + ms
      const answered = (cid: CID): boolean => {
        const reply = replies.get(cid.toString())
        return reply?.presence === 'dont-have' || (type === 'have' ? reply?.presence === 'have' : reply?.block !== undefined)
      }
      while (Date.now() < deadline && !cids.every(answered)) await new Promise((resolve) => setTimeout(resolve, 25))
      await stream.close().catch(() => {})
      return new Map(cids.map((cid) => [cid.toString(), replies.get(cid.toString()) ?? {}]))
    },
    async providers (cid, ms) {
      const found: string[] = []
      try {
        for await (const provider of libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(ms) })) found.push(provider.id.toString())
      } catch {
        // the lookup ran out of time or of peers: what was found stands
      }
      return found
    },
    stop: async () => libp2p.stop(),
  }
}
