/**
 * The serving side of bitswap: the blocks peers want from us, read from the blockstore several at
 * a time and each sent the moment it is read (Helia's ledger reads a peer's whole wantlist, one
 * block after another, before it sends any). Reads are shared fairly among peers, and bounded in
 * bytes read but not yet handed to the transport — per peer and in all — so twenty fetchers cost
 * a bounded amount of memory however long their wantlists.
 */
import type { PeerId } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { DONT_HAVE, HAVE, WANT_HAVE, type WantEntry } from './bitswap-message.ts'
import type { Outbox } from './bitswap-outbox.ts'

/** Blockstore reads in flight at once, over all peers. */
const MAX_READS = 16
/** Reads in flight for one peer. */
const MAX_PEER_READS = 8
/** Bytes read for one peer and not yet handed to its stream; no new read starts beyond this. */
const MAX_PEER_BUFFERED = 4 * 1024 * 1024
/** The same over all peers. */
const MAX_BUFFERED = 32 * 1024 * 1024
/** Wants we keep per peer; more are ignored (a peer cannot make us hold an endless list). */
const MAX_PEER_WANTS = 4096

interface ServerWant {
  cid: CID
  wantType: number
  sendDontHave: boolean
}

interface Ledger {
  peer: PeerId
  outbox: Outbox
  /** Wants not yet answered, in arrival order; the ones being read are in `reading` too. */
  wants: Map<string, ServerWant>
  /** Wants for blocks we did not have: answered if `announce` says we have them now. */
  missing: Map<string, ServerWant>
  reading: Set<string>
  buffered: number
}

export interface BitswapServer {
  /** A peer's wantlist update. */
  receive(peer: PeerId, outbox: Outbox, wants: WantEntry[], full: boolean): void
  /** `cid` just became servable: peers that wanted it before get it now. */
  announce(cid: CID): void
  peerGone(peer: PeerId): void
  stop(): void
}

export function createBitswapServer (blockstore: Blockstore, keyOf: (cid: CID) => string, log: (msg: string) => void): BitswapServer {
  const ledgers = new Map<string, Ledger>()
  let reads = 0
  let buffered = 0
  let stopped = false
  /** Peers served in turn: the next read goes to the one after the last served. */
  let turn = 0

  const answer = async (ledger: Ledger, key: string, want: ServerWant): Promise<void> => {
    let bytes: Uint8Array | undefined
    try {
      if (want.wantType === WANT_HAVE) {
        if (await blockstore.has(want.cid)) bytes = new Uint8Array(0)
      } else {
        // no has() first: the read itself says whether we have it (a NotFoundError), with one stat less
        const chunks: Uint8Array[] = []
        for await (const chunk of blockstore.get(want.cid)) chunks.push(chunk)
        bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      }
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError') log(`bitswap: reading ${want.cid}: ${(err as Error).message}`)
    }
    // cancelled, replaced or the peer left while we read
    if (stopped || ledgers.get(ledger.peer.toString()) !== ledger || ledger.wants.get(key) !== want) return
    ledger.wants.delete(key)
    if (bytes === undefined) {
      if (ledger.missing.size < MAX_PEER_WANTS) ledger.missing.set(key, want)
      if (want.sendDontHave) ledger.outbox.presence({ cid: want.cid, type: DONT_HAVE })
      // told once; an announce later sends the block itself
      want.sendDontHave = false
    } else if (want.wantType === WANT_HAVE) {
      ledger.outbox.presence({ cid: want.cid, type: HAVE })
    } else {
      const size = bytes.byteLength
      ledger.buffered += size
      buffered += size
      ledger.outbox.block({
        cid: want.cid,
        data: bytes,
        done: () => {
          ledger.buffered -= size
          buffered -= size
          pump()
        },
      })
    }
  }

  /** The next want of `ledger` not being read yet. */
  const nextWant = (ledger: Ledger): [string, ServerWant] | undefined => {
    if (ledger.reading.size >= MAX_PEER_READS || ledger.buffered >= MAX_PEER_BUFFERED) return undefined
    for (const entry of ledger.wants) {
      if (!ledger.reading.has(entry[0])) return entry
    }
    return undefined
  }

  const pump = (): void => {
    while (!stopped && reads < MAX_READS && buffered < MAX_BUFFERED && ledgers.size > 0) {
      const all = [...ledgers.values()]
      let started = false
      for (let i = 0; i < all.length && !started; i++) {
        const ledger = all[(turn + i) % all.length]!
        const next = nextWant(ledger)
        if (next === undefined) continue
        turn = (turn + i + 1) % all.length
        const [key, want] = next
        started = true
        reads++
        ledger.reading.add(key)
        ledger.outbox.expect()
        void answer(ledger, key, want).finally(() => {
          reads--
          ledger.reading.delete(key)
          ledger.outbox.settle()
          pump()
        })
      }
      if (!started) return
    }
  }

  return {
    receive (peer, outbox, wants, full) {
      if (stopped) return
      const id = peer.toString()
      let ledger = ledgers.get(id)
      if (ledger === undefined) {
        ledger = { peer, outbox, wants: new Map(), missing: new Map(), reading: new Set(), buffered: 0 }
        ledgers.set(id, ledger)
      }
      if (full) {
        ledger.wants.clear()
        ledger.missing.clear()
      }
      for (const entry of wants) {
        const key = keyOf(entry.cid)
        const known = ledger.wants.get(key)
        ledger.missing.delete(key)
        if (entry.cancel) {
          ledger.wants.delete(key)
        } else if (known !== undefined && known.wantType === entry.wantType) {
          known.sendDontHave = entry.sendDontHave
        } else if (known !== undefined || ledger.wants.size < MAX_PEER_WANTS) {
          ledger.wants.set(key, { cid: entry.cid, wantType: entry.wantType, sendDontHave: entry.sendDontHave })
        }
      }
      pump()
    },
    announce (cid) {
      const key = keyOf(cid)
      for (const ledger of ledgers.values()) {
        const want = ledger.missing.get(key)
        if (want === undefined || ledger.wants.has(key)) continue
        ledger.missing.delete(key)
        ledger.wants.set(key, want)
      }
      pump()
    },
    peerGone (peer) {
      ledgers.delete(peer.toString())
    },
    stop () {
      stopped = true
      ledgers.clear()
    },
  }
}
