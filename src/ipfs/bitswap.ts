/**
 * Bitswap 1.2.0, our own engine on the standard wire (any Helia or Kubo node exchanges blocks with
 * it): src/ipfs/bitswap-message.ts is the message, bitswap-outbox.ts the one stream per peer we
 * send on, bitswap-server.ts what we answer, bitswap-wants.ts what we ask for.
 *
 * Why not `@helia/bitswap`: measured on one peer over loopback (bench/README.md, "Peer transfer"),
 * its serving side reads a peer's whole wantlist block by block before sending any, its asking
 * side debounces every wantlist change by 10 ms and sends every want to every peer, and it opens
 * a stream per message — the transfer ran in lock-step batches with both processes mostly idle.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { decodeMessage, MessageReader, releaseCopiedChunks } from './bitswap-message.ts'
import { BITSWAP_120, Outbox } from './bitswap-outbox.ts'
import { createBitswapServer } from './bitswap-server.ts'
import { createWantManager, keyOfCid, type PeerShare, type WantOptions } from './bitswap-wants.ts'
import { MAX_RAW_BLOCK } from './cid.ts'

/**
 * Block bytes per message we send: a few blocks, so the asker sees them arrive as they are read;
 * a 1 MiB block (the largest we serve, see serving-blockstore.ts) goes alone.
 */
export const MAX_SENT_MESSAGE = MAX_RAW_BLOCK
/** What we accept: bitswap's usual limit, as other peers send it. */
const MAX_RECEIVED_MESSAGE = 4 * 1024 * 1024
/**
 * Bytes of blocks we did not want that a peer may send beyond the ones we did before we hang up
 * on it for good: late duplicates of hedged or cancelled wants stay well below (a window is 8 MiB);
 * a peer pushing blocks at us costs us a hash per block until then.
 */
const MAX_UNWANTED_BYTES = 16 * 1024 * 1024

/** The part of bitswap the fetcher uses. */
export interface BitswapExchange {
  /** The block, hash-checked against `cid`; rejects when `signal` aborts. */
  want(cid: CID, options: WantOptions): Promise<Uint8Array>
  /** A block just became servable: peers that asked for it before get it now. */
  announce(cid: CID): void
  /** Blocks and bytes received from each connected peer so far. */
  shares(): PeerShare[]
  /**
   * Bytes received so far from peers we wait on for blocks, counted as they come off the stream,
   * before their message is whole: a 1 MiB block sent slowly is progress before it is in.
   */
  arrived(): number
  stop(): Promise<void>
}

export interface BitswapOptions {
  log?: (msg: string) => void
}

/** Starts bitswap on `libp2p` (already started), serving blocks from `blockstore`. */
export async function startBitswap (libp2p: Libp2p<any>, blockstore: Blockstore, options: BitswapOptions = {}): Promise<BitswapExchange> {
  const log = options.log ?? (() => {})
  const outboxes = new Map<string, Outbox>()
  /** Per peer: bytes of blocks we wanted, and of blocks we did not. */
  const received = new Map<string, { wanted: number, unwanted: number }>()
  const flooders = new Set<string>()
  const server = createBitswapServer(blockstore, keyOfCid, log)
  const wants = createWantManager()
  let stopped = false

  const outboxOf = (peer: PeerId): Outbox => {
    const id = peer.toString()
    let outbox = outboxes.get(id)
    if (outbox === undefined) {
      outbox = new Outbox({ libp2p, peer, maxMessageBytes: MAX_SENT_MESSAGE, log, onUnsupported: () => dropPeer(peer) })
      outboxes.set(id, outbox)
    }
    return outbox
  }

  const connected = (peer: PeerId): void => {
    if (!stopped) wants.peerConnected(peer, outboxOf(peer))
  }
  const dropPeer = (peer: PeerId): void => {
    const id = peer.toString()
    received.delete(id)
    wants.peerGone(peer)
    server.peerGone(peer)
    outboxes.get(id)?.close()
    outboxes.delete(id)
  }
  const disconnected = (peer: PeerId): void => {
    // another connection to the same peer may remain
    if (libp2p.getConnections(peer).length > 0) return
    dropPeer(peer)
  }
  // A peer takes wants as soon as it is connected, not when identify has told the topology it
  // speaks bitswap: that is a round trip and its processing later (40-50 ms on loopback, under
  // the dial's own work). One that does not refuses our stream and hands its wants back (onUnsupported).
  const onPeerConnect = (evt: CustomEvent<PeerId>): void => connected(evt.detail)
  const onPeerDisconnect = (evt: CustomEvent<PeerId>): void => disconnected(evt.detail)

  /** Counts what `peer` sent us; true when it has pushed too many blocks we never asked for. */
  const flooding = (peer: PeerId, bytes: number, unwanted: number): boolean => {
    const id = peer.toString()
    let counts = received.get(id)
    if (counts === undefined) {
      counts = { wanted: 0, unwanted: 0 }
      received.set(id, counts)
    }
    counts.wanted += bytes - unwanted
    counts.unwanted += unwanted
    if (counts.unwanted <= MAX_UNWANTED_BYTES + counts.wanted) return false
    flooders.add(id)
    log(`bitswap: ${peer} sent ${counts.unwanted} bytes of blocks nobody asked for: hanging up`)
    void libp2p.hangUp(peer).catch(() => {})
    return true
  }

  const onStream = (stream: Stream, peer: PeerId): void => {
    if (flooders.has(peer.toString())) {
      stream.abort(new Error('peer floods unwanted blocks'))
      return
    }
    // we only read inbound streams: replies go out on our own stream to the peer
    void stream.close().catch(() => {})
    const reader = new MessageReader(MAX_RECEIVED_MESSAGE)
    stream.addEventListener('message', (evt) => {
      if (stopped) return
      wants.receivedBytes(peer, evt.data.byteLength)
      try {
        for (const bytes of reader.push(evt.data)) {
          const message = decodeMessage(bytes)
          if (message.blocks.length > 0) {
            const unwanted = wants.receivedBlocks(peer, message.blocks)
            if (flooding(peer, message.blocks.reduce((n, b) => n + b.data.byteLength, 0), unwanted)) {
              stream.abort(new Error('peer floods unwanted blocks'))
              return
            }
            releaseCopiedChunks(message.blocks)
          }
          if (message.presences.length > 0) wants.receivedPresences(peer, message.presences)
          if (message.wants.length > 0 || message.full) server.receive(peer, outboxOf(peer), message.wants, message.full)
        }
      } catch (err) {
        log(`bitswap: bad message from ${peer}: ${(err as Error).message}`)
        stream.abort(err as Error)
      }
    })
  }

  await libp2p.handle(BITSWAP_120, (stream: Stream, connection: { remotePeer: PeerId }) => onStream(stream, connection.remotePeer), {
    maxInboundStreams: 1024,
    maxOutboundStreams: 1024,
  })
  const topology = await libp2p.register(BITSWAP_120, {
    onConnect: (peer: PeerId) => connected(peer),
    onDisconnect: (peer: PeerId) => disconnected(peer),
  })
  libp2p.addEventListener('peer:connect', onPeerConnect)
  libp2p.addEventListener('peer:disconnect', onPeerDisconnect)
  for (const connection of libp2p.getConnections()) connected(connection.remotePeer)

  return {
    want: async (cid, opts) => wants.want(cid, opts),
    announce: (cid) => server.announce(cid),
    shares: () => wants.shares(),
    arrived: () => wants.arrived(),
    stop: async () => {
      if (stopped) return
      stopped = true
      wants.stop()
      server.stop()
      for (const outbox of outboxes.values()) outbox.close()
      outboxes.clear()
      libp2p.unregister(topology)
      libp2p.removeEventListener('peer:connect', onPeerConnect)
      libp2p.removeEventListener('peer:disconnect', onPeerDisconnect)
      await libp2p.unhandle(BITSWAP_120)
    },
  }
}
