/**
 * The asking side of bitswap: the blocks we want, each sent as WANT_BLOCK (with sendDontHave) to
 * one peer at a time, never to all of them:
 * - each peer gets a window of wants in flight sized in bytes (a count from the blocks' average
 *   size so far), so small tarballs go many at once and 1 MiB DAG leaves a few at a time;
 * - a want goes to the connected peer with the fewest wants in flight, so a faster peer, whose
 *   window empties sooner, takes a larger share as blocks arrive;
 * - a peer that says DONT_HAVE, or leaves, hands its wants to the others; a peer with room and
 *   nothing new to ask for takes over the oldest wants another peer has sat on for too long (the
 *   block is then asked twice; whichever arrives first wins and the other peer gets a CANCEL).
 * Blocks are hashed against the wanted multihash before anyone sees them; blocks nobody wants
 * are dropped unhashed when we want nothing at all.
 */
import type { PeerId } from '@libp2p/interface'
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DONT_HAVE, WANT_BLOCK, type Presence, type ReceivedBlock } from './bitswap-message.ts'
import type { Outbox } from './bitswap-outbox.ts'

/** Bytes asked of one peer and not yet received, at most (estimated from the average block). */
const WINDOW_BYTES = 8 * 1024 * 1024
const MIN_WINDOW = 8
/** Helia drops wants beyond 1024 per peer. */
const MAX_WINDOW = 1000
/** A want another peer has held this long (and at least 4 × the typical wait) may be asked of an idle peer too. */
const HEDGE_MIN_MS = 150
const HEDGE_CHECK_MS = 50

const HASHES: Record<number, { name: string, length: number }> = { 0x12: { name: 'sha256', length: 32 }, 0x13: { name: 'sha512', length: 64 } }

function digestOf (algorithm: string, data: Uint8ArrayList): Buffer {
  const hash = createHash(algorithm)
  for (const chunk of data) hash.update(chunk)
  return hash.digest()
}

/** The want key of a multihash: its code and digest (CIDv0 and v1, raw or dag-pb, name one block). */
export function keyOfDigest (code: number, digest: Uint8Array): string {
  return `${code}:${Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64')}`
}

export function keyOfCid (cid: CID): string {
  return keyOfDigest(cid.multihash.code, cid.multihash.digest)
}

interface Waiter {
  /** Where the block goes if it has this length (a DAG leaf's place in its tarball). */
  into?: Uint8Array
  resolve(bytes: Uint8Array): void
  reject(err: Error): void
}

interface Want {
  key: string
  cid: CID
  waiters: Set<Waiter>
  /** Peers asked, and when. */
  asked: Map<string, number>
  dontHave: Set<string>
}

interface PeerState {
  id: PeerId
  outbox: Outbox
  inFlight: Set<string>
  blocks: number
  bytes: number
  /** Bytes of blocks it sent that nobody wanted (late duplicates; a flooder's). */
  unwanted: number
}

export interface PeerShare {
  peer: string
  blocks: number
  bytes: number
}

export interface WantOptions {
  signal: AbortSignal
  /** A block of exactly this length is written here, and `into` is what the want resolves with. */
  into?: Uint8Array
}

export interface WantManager {
  want(cid: CID, options: WantOptions): Promise<Uint8Array>
  /** Takes the blocks we want; returns the bytes of those we did not (or no longer) want. */
  receivedBlocks(peer: PeerId, blocks: ReceivedBlock[]): number
  receivedPresences(peer: PeerId, presences: Presence[]): void
  /**
   * `bytes` of a bitswap message from `peer` came in, before the message is whole: counted
   * (`arrived`) only while we wait on that peer for blocks (a peer sending us its own wants is no
   * progress of ours) and it has not sent more unwanted bytes than wanted (`counts`).
   */
  receivedBytes(peer: PeerId, bytes: number): void
  /**
   * Bytes counted by `receivedBytes` so far, less those of blocks we did not want once their
   * message is whole: a large block's progress before it is in.
   */
  arrived(): number
  peerConnected(peer: PeerId, outbox: Outbox): void
  peerGone(peer: PeerId): void
  /** Blocks and bytes received from each peer so far. */
  shares(): PeerShare[]
  stop(): void
}

export function createWantManager (): WantManager {
  const wants = new Map<string, Want>()
  /** Wants asked of no peer right now, in the order they came. */
  const pending = new Set<string>()
  const peers = new Map<string, PeerState>()
  let avgBlock = 64 * 1024
  let avgWait = 0
  let scheduled = false
  let hedgeTimer: NodeJS.Timeout | undefined
  let stopped = false
  let arrived = 0

  /**
   * Whether a peer's bytes still coming in are progress: while we wait on it for blocks, and
   * unless more of what it sent was unwanted than wanted (a peer pushing blocks nobody asked for
   * buys no patience with them).
   */
  const counts = (peer: PeerState): boolean => peer.inFlight.size > 0 && peer.unwanted <= peer.bytes

  const windowOf = (): number => Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.round(WINDOW_BYTES / avgBlock)))

  const ask = (want: Want, peer: PeerState): void => {
    want.asked.set(peer.id.toString(), Date.now())
    peer.inFlight.add(want.key)
    peer.outbox.want(want.key, { cid: want.cid, cancel: false, wantType: WANT_BLOCK, sendDontHave: true })
  }

  const cancelAt = (want: Want, except?: string): void => {
    for (const id of want.asked.keys()) {
      const peer = peers.get(id)
      if (peer === undefined) continue
      peer.inFlight.delete(want.key)
      if (id !== except) peer.outbox.want(want.key, { cid: want.cid, cancel: true, wantType: WANT_BLOCK, sendDontHave: false })
    }
    want.asked.clear()
  }

  /** Hands pending wants to peers with room; then lets idle peers take over stale wants. */
  const schedule = (): void => {
    scheduled = false
    if (stopped || peers.size === 0) return
    const window = windowOf()
    const all = [...peers.values()]
    for (const key of pending) {
      const want = wants.get(key)!
      let best: PeerState | undefined
      let eligible = false
      for (const peer of all) {
        if (want.dontHave.has(peer.id.toString())) continue
        eligible = true
        if (peer.inFlight.size < window && (best === undefined || peer.inFlight.size < best.inFlight.size)) best = peer
      }
      if (best !== undefined) {
        pending.delete(key)
        ask(want, best)
      } else if (eligible && all.every((peer) => peer.inFlight.size >= window)) {
        break
      }
    }
    armHedge()
  }

  const soon = (): void => {
    if (scheduled) return
    scheduled = true
    queueMicrotask(schedule)
  }

  /** Idle peers (room, nothing pending they could take) ask for what others have held too long. */
  const hedge = (): void => {
    hedgeTimer = undefined
    if (stopped || peers.size < 2) return
    const window = windowOf()
    const now = Date.now()
    const stale = Math.max(HEDGE_MIN_MS, 4 * avgWait)
    for (const peer of peers.values()) {
      const id = peer.id.toString()
      if (peer.inFlight.size >= window / 2) continue
      for (const want of wants.values()) {
        if (peer.inFlight.size >= window) break
        if (want.asked.size === 0 || want.asked.has(id) || want.dontHave.has(id)) continue
        const oldest = Math.min(...want.asked.values())
        if (now - oldest >= stale) ask(want, peer)
      }
    }
    armHedge()
  }

  const armHedge = (): void => {
    if (hedgeTimer !== undefined || stopped || peers.size < 2 || wants.size === pending.size) return
    hedgeTimer = setTimeout(hedge, HEDGE_CHECK_MS)
    hedgeTimer.unref()
  }

  const settle = (want: Want): void => {
    wants.delete(want.key)
    pending.delete(want.key)
  }

  return {
    want (cid, { signal, into }) {
      if (stopped) return Promise.reject(new Error('bitswap stopped'))
      signal.throwIfAborted()
      const key = keyOfCid(cid)
      let want = wants.get(key)
      if (want === undefined) {
        want = { key, cid, waiters: new Set(), asked: new Map(), dontHave: new Set() }
        wants.set(key, want)
        pending.add(key)
        soon()
      }
      const w = want
      return new Promise<Uint8Array>((resolve, reject) => {
        const onAbort = (): void => {
          w.waiters.delete(waiter)
          if (w.waiters.size === 0 && wants.get(key) === w) {
            cancelAt(w)
            settle(w)
            soon()
          }
          reject(signal.reason ?? new Error('aborted'))
        }
        const waiter: Waiter = {
          into,
          resolve: (bytes) => {
            signal.removeEventListener('abort', onAbort)
            resolve(bytes)
          },
          reject: (err) => {
            signal.removeEventListener('abort', onAbort)
            reject(err)
          },
        }
        w.waiters.add(waiter)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    },

    receivedBlocks (peer, blocks) {
      let unwanted = 0
      const id = peer.toString()
      const state = peers.get(id)
      const counting = state !== undefined && counts(state)
      for (const block of blocks) {
        const hash = HASHES[block.hashCode]
        const want = wants.size === 0 || hash === undefined || block.hashLength !== hash.length
          ? undefined
          : wants.get(keyOfDigest(block.hashCode, digestOf(hash.name, block.data)))
        if (want === undefined) {
          unwanted += block.data.byteLength
          if (state !== undefined) state.unwanted += block.data.byteLength
          continue
        }
        const askedAt = want.asked.get(id)
        if (askedAt !== undefined) avgWait = avgWait === 0 ? Date.now() - askedAt : avgWait * 0.9 + (Date.now() - askedAt) * 0.1
        avgBlock = avgBlock * 0.9 + block.data.byteLength * 0.1
        if (state !== undefined) {
          state.blocks++
          state.bytes += block.data.byteLength
        }
        cancelAt(want, id)
        settle(want)
        let joined: Uint8Array | undefined
        for (const waiter of want.waiters) {
          const into = waiter.into
          if (into?.byteLength === block.data.byteLength) {
            let at = 0
            for (const chunk of block.data) {
              into.set(chunk, at)
              at += chunk.byteLength
            }
            waiter.resolve(into)
          } else {
            // one piece: copied only when the block spans chunks
            joined ??= block.data.subarray()
            waiter.resolve(joined)
          }
        }
      }
      // their bytes were no progress after all
      if (counting) arrived -= unwanted
      soon()
      return unwanted
    },

    receivedPresences (peer, presences) {
      const id = peer.toString()
      for (const presence of presences) {
        if (presence.type !== DONT_HAVE) continue
        const want = wants.get(keyOfCid(presence.cid))
        if (want === undefined || !want.asked.has(id)) continue
        want.dontHave.add(id)
        want.asked.delete(id)
        peers.get(id)?.inFlight.delete(want.key)
        if (want.asked.size === 0) pending.add(want.key)
      }
      soon()
    },

    receivedBytes (peer, bytes) {
      const state = peers.get(peer.toString())
      if (state !== undefined && counts(state)) arrived += bytes
    },

    arrived: () => arrived,

    peerConnected (peer, outbox) {
      const id = peer.toString()
      if (peers.has(id) || stopped) return
      peers.set(id, { id: peer, outbox, inFlight: new Set(), blocks: 0, bytes: 0, unwanted: 0 })
      soon()
    },

    peerGone (peer) {
      const id = peer.toString()
      const state = peers.get(id)
      if (state === undefined) return
      peers.delete(id)
      for (const key of state.inFlight) {
        const want = wants.get(key)
        if (want === undefined) continue
        want.asked.delete(id)
        if (want.asked.size === 0) pending.add(key)
      }
      soon()
    },

    shares () {
      return [...peers.values()].map((p) => ({ peer: p.id.toString(), blocks: p.blocks, bytes: p.bytes }))
    },

    stop () {
      stopped = true
      clearTimeout(hedgeTimer)
      const err = new Error('bitswap stopped')
      for (const want of wants.values()) for (const waiter of want.waiters) waiter.reject(err)
      wants.clear()
      pending.clear()
      peers.clear()
    },
  }
}
