/**
 * The PeerFetcher: tarballs by CID from connected peers, verified against the full integrity.
 *
 * Per tarball, concurrently:
 * - CIDs already known (local index, packument hint) are fetched;
 * - the raw sha2-512 CID derived from the integrity is wanted over bitswap — one shared wantlist
 *   for all fetches, so every tarball in flight is one want in one message per peer;
 * - shortly after (at once for sha1-only integrities), every connected peer is asked over the CID
 *   protocol. A peer answers the raw CID for a tarball ≤ 1 MiB (keep waiting for the want), the
 *   root of a UnixFS DAG for a larger one (fetch it), or "absent". Only if no connected peer knows
 *   it, DHT providers of the raw CID are asked.
 * That is how the fetcher learns a tarball's size class without a size in the lockfile: it never
 * has to guess, peers that have the tarball say which CID serves it, and the raw want costs
 * nothing extra for the common small case.
 *
 * The wait is bounded by `peerTimeout` of silence (no block arrived, no bytes of one came in at
 * a useful rate, and no peer answered), not by total time, so a big transfer that makes progress
 * is not cut off; once a tarball's bytes are in and verified, writing them to the cache (slow on a
 * busy disk) is not silence. When every peer said
 * "absent" the fetch gives up at once. A peer whose CID turns out to hold other bytes is dropped
 * for the life of the node.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as rawCodec from 'multiformats/codecs/raw'
import type { PeerFetcher, TarballRef } from '../types.ts'
import type { BitswapExchange } from './bitswap.ts'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { rawCidFromIntegrity } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import type { CidAsker } from './cid-protocol.ts'
import { fetchDag } from './fetch-dag.ts'
import { startSilenceClock } from './silence-clock.ts'
import { hashesOf, matchesIntegrity, recordVerified, sriOf } from '../integrity.ts'
import { sleep } from './sleep.ts'

export interface FetcherInit {
  libp2p: Libp2p<any>
  bitswap: BitswapExchange
  asker: CidAsker
  blockstore: CacheBlockstore
  index: CidIndex
  /**
   * Whether a large tarball's DAG blocks (and its root, in `index`) are kept once fetched, so
   * this node can serve them on. A node that serves nothing skips that: the blocks would only
   * double the tarball's disk writes and hashing (a later `serve` builds the DAG from the
   * cached tarball). Default true.
   */
  keepBlocks?: boolean
  /** ms of silence after which a fetch gives up. */
  peerTimeout: number
  /** Settles when configured peers were dialled and the LAN had a moment to answer. */
  ready: Promise<void>
  /**
   * Settles when a first peer is connected, or with `ready`. Fetches start then: their wants wait
   * in bitswap for a peer to take them and spread to the others as they connect; only the CID
   * questions, whose "absent" from every peer ends a fetch, wait for `ready`. Default `ready`.
   */
  connected?: Promise<void>
  /** Aborts every fetch (node stopping). */
  stopSignal: AbortSignal
  /** Drops a lying peer: hang up and never talk to it again. */
  drop(peer: PeerId): Promise<void>
  isDropped(peer: PeerId): boolean
  /** DHT providers of a CID (bounded by the signal); empty when there is no DHT to ask. */
  findProviders(cid: CID, signal: AbortSignal): AsyncIterable<PeerId>
  log(msg: string): void
}

/** Tarballs in flight at once. A stock Helia peer reads every wanted block before it sends any
 * (ours sends each as it is read), so a long wantlist delays its first block past the idle bound
 * on a loaded machine. */
const MAX_IN_FLIGHT = 64
/**
 * The slowest a peer that has a large tarball may send it before we stop waiting, in bytes/s:
 * a loaded seeder serving a 3 MiB DAG to ten askers at once takes seconds per 1 MiB block, and
 * that is not silence. The extra wait is capped (MAX_EXTRA_SILENCE × peerTimeout) so that a DAG
 * root claiming a big file buys a lying peer little.
 */
const MIN_PEER_RATE = 1024 * 1024
const MAX_EXTRA_SILENCE = 4

/** A fetch's clock of silence (see idleController). */
interface IdleClock {
  hold(): void
  /** `from`: the peers that answered the DAG's root (the list may grow); the wait lasts while one is connected. */
  expectBlocks(size: number, from: readonly PeerId[]): void
}

/** Providers asked per tarball when no connected peer has it. */
const MAX_DHT_PROVIDERS = 3

/** Creates the fetcher; it lives as long as the node (`stopSignal`). */
export function createFetcher (init: FetcherInit): PeerFetcher {
  const { libp2p, bitswap, blockstore, index, peerTimeout, log } = init
  const keepBlocks = init.keepBlocks ?? true
  /** What fetchDag stores the blocks in: nowhere, when they are not kept (it still reads what is there). */
  const dagStore: CacheBlockstore = keepBlocks ? blockstore : { ...blockstore, put: async (cid) => cid, putVerified: async (cid) => cid }
  const hints = new Map<string, CID>()
  let lastProgress = 0
  /** When `ready` settled: a fetch started before (on a first peer) counts no silence until then. */
  let dialledAt: number | undefined
  const dialled = (): void => { dialledAt = Date.now() }
  void init.ready.then(dialled, dialled)
  let inFlight = 0
  const waiting: Array<() => void> = []

  const want = async (cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array> => {
    const bytes = await bitswap.want(cid, options)
    lastProgress = Date.now()
    return bytes
  }

  const acquire = async (): Promise<void> => {
    if (inFlight < MAX_IN_FLIGHT) {
      inFlight++
      return
    }
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  const release = (): void => {
    const next = waiting.shift()
    if (next === undefined) inFlight--
    else next()
  }

  /**
   * An AbortController that fires after `peerTimeout` ms without progress (counted from when every
   * named peer was dialled at the earliest), or when the node stops;
   * `hold` stops the idle clock for good (nothing left to wait on peers for); `expectBlocks`
   * allows more silence while a peer that proved it has a large tarball (by answering its root)
   * stays connected to send its 1 MiB blocks.
   */
  const idleController = (): IdleClock & { controller: AbortController, touch: () => void, clear: () => void } => {
    const controller = new AbortController()
    let local = Date.now()
    let extended = { bound: peerTimeout, from: [] as readonly PeerId[] }
    const clock = startSilenceClock({
      peerTimeout,
      arrived: () => bitswap.arrived(),
      // no silence counts before every named peer was dialled
      lastProgress: () => dialledAt === undefined ? Date.now() : Math.max(local, lastProgress, dialledAt),
      bound: () => extended.from.some((peer) => libp2p.getConnections(peer).length > 0) ? extended.bound : peerTimeout,
      onSilent: (bound) => controller.abort(new Error(`no peer progress for ${bound} ms`)),
    })
    const onStop = (): void => controller.abort()
    if (init.stopSignal.aborted) controller.abort()
    init.stopSignal.addEventListener('abort', onStop, { once: true })
    return {
      controller,
      touch: () => { local = Date.now() },
      expectBlocks: (size, from) => {
        extended = { bound: peerTimeout + Math.min(size / MIN_PEER_RATE * 1000, MAX_EXTRA_SILENCE * peerTimeout), from }
      },
      hold: () => clock.stop(),
      clear: () => {
        clock.stop()
        init.stopSignal.removeEventListener('abort', onStop)
      },
    }
  }

  /** The verified bytes under `cid`, `mismatch` if they are not the tarball, or undefined. */
  const fetchCid = async (cid: CID, integrity: string, signal: AbortSignal, idle: IdleClock, vouchers: readonly PeerId[]): Promise<Uint8Array | 'mismatch' | undefined> => {
    if (cid.code === rawCodec.code) {
      const bytes = await want(cid, { signal })
      // bitswap hashed the block against `cid`: when that is the integrity's only hash, done
      const hashes = hashesOf(integrity)
      const raw = rawCidFromIntegrity(integrity)
      if (hashes.length === 1 && raw !== undefined && raw.equals(cid)) return bytes
      return matchesIntegrity(bytes, integrity) ? bytes : 'mismatch'
    }
    return fetchDag(cid, integrity, want, dagStore, signal, { onSize: (size) => idle.expectBlocks(size, vouchers), onVerified: idle.hold })
  }

  const find = async (ref: TarballRef, known: CID[], signal: AbortSignal, idle: IdleClock & { touch: () => void }): Promise<Uint8Array | undefined> => {
    const { integrity } = ref
    const raw = rawCidFromIntegrity(integrity)
    return await new Promise<Uint8Array | undefined>((resolve) => {
      const claimants = new Map<string, PeerId[]>()
      let pending = 0
      let asking = true
      let rawVouched = false
      let settled = false
      const finish = (bytes: Uint8Array | undefined): void => {
        if (settled) return
        settled = true
        signal.removeEventListener('abort', onAbort)
        resolve(bytes)
      }
      const onAbort = (): void => finish(undefined)
      signal.addEventListener('abort', onAbort, { once: true })
      // nobody can still deliver: every asked peer said absent and no fetch is under way
      const maybeGiveUp = (): void => {
        if (!asking && pending === 0 && !rawVouched) finish(undefined)
      }

      const tryCid = (cid: CID, from: PeerId | undefined): void => {
        const key = cid.toString()
        const isRaw = raw !== undefined && cid.equals(raw)
        // a peer vouching for the raw CID means: keep waiting for the raw want
        if (isRaw && from !== undefined) rawVouched = true
        const vouchers = claimants.get(key)
        if (vouchers !== undefined) {
          if (from !== undefined) vouchers.push(from)
          return
        }
        const claimed = from === undefined ? [] : [from]
        claimants.set(key, claimed)
        if (isRaw) {
          void fetchCid(cid, integrity, signal, idle, claimed).then(onResult(cid), () => {})
          return
        }
        pending++
        fetchCid(cid, integrity, signal, idle, claimed).then(onResult(cid), (err: Error) => {
          if (!signal.aborted) log(`fetch ${cid} for ${ref.name}@${ref.version}: ${err.message}`)
        }).finally(() => {
          pending--
          maybeGiveUp()
        })
      }

      const onResult = (cid: CID) => async (result: Uint8Array | 'mismatch' | undefined): Promise<void> => {
        if (result instanceof Uint8Array) {
          idle.hold()
          if (keepBlocks && (raw === undefined || !cid.equals(raw))) {
            // verified: remember it under every digest of the tarball (sha512 hashed only if missing)
            const digests = hashesOf(integrity).some((hash) => hash.algorithm === 'sha512') ? integrity : `${integrity} sha512-${createHash('sha512').update(result).digest('base64')}`
            await index.set(digests, cid)
              .catch((err: Error) => log(`ipfs: indexing ${cid}: ${err.message}`))
          }
          // a view into a larger buffer (a bitswap message's) would keep all of it alive, and could
          // not move to an extraction worker without another copy: its own bytes only
          // (recorded as verified: the cache then stores them without hashing them again)
          finish(recordVerified(result.byteLength === result.buffer.byteLength ? result : new Uint8Array(result), integrity))
          return
        }
        if (result === 'mismatch') {
          await Promise.all((claimants.get(cid.toString()) ?? []).map(async (peer) => {
            log(`ipfs: peer ${peer} answered ${cid} for ${ref.name}@${ref.version}, which holds other bytes: dropped`)
            await init.drop(peer)
          }))
        }
      }

      const ask = async (peers: PeerId[]): Promise<void> => {
        await Promise.all(peers.map(async (peer) => {
          const answer = await init.asker.ask(peer, integrity, ref, signal)
          if (answer === 'unknown') {
            // a peer that cannot answer may still hold the raw block
            rawVouched ||= raw !== undefined
          } else if (answer !== 'absent') {
            idle.touch()
            tryCid(answer, peer)
          }
        }))
      }

      const askAll = async (): Promise<void> => {
        // give the raw want a head start: most tarballs are small and arrive before any answer
        if (raw !== undefined) await sleep(Math.min(100, peerTimeout / 4), signal)
        // every named peer gets the question: one connected first saying "absent" is not all of them
        await init.ready
        if (signal.aborted) return
        await ask(libp2p.getPeers().filter((peer) => !init.isDropped(peer)))
        const vouched = [...claimants.values()].some((from) => from.length > 0)
        if (vouched || rawVouched || signal.aborted) return
        // no connected peer has it: DHT providers of a CID it may be under. Asking one connects
        // it, so bitswap sends it our wants too: a plain IPFS node that provides a DAG root
        // (learnt from a map or a hint) serves it without speaking our protocol.
        const connected = new Set(libp2p.getPeers().map(String))
        const providers: PeerId[] = []
        for (const cid of [...known, ...(raw === undefined ? [] : [raw])]) {
          for await (const peer of init.findProviders(cid, signal)) {
            if (connected.has(String(peer)) || init.isDropped(peer) || providers.some((p) => p.equals(peer))) continue
            providers.push(peer)
            if (providers.length === MAX_DHT_PROVIDERS) break
          }
          if (providers.length === MAX_DHT_PROVIDERS) break
        }
        await ask(providers)
      }

      for (const cid of known) tryCid(cid, undefined)
      if (raw !== undefined) tryCid(raw, undefined)
      void askAll().catch((err: Error) => log(`asking peers for ${ref.name}@${ref.version}: ${err.message}`)).finally(() => {
        asking = false
        maybeGiveUp()
      })
    })
  }

  return {
    async fetch (ref) {
      if (init.stopSignal.aborted || hashesOf(ref.integrity).length === 0) return undefined
      await (init.connected ?? init.ready)
      // that first connection may be gone already: the dials still under way decide
      if (libp2p.getConnections().length === 0) await init.ready
      if (libp2p.getConnections().length === 0) return undefined
      await acquire()
      const idle = idleController()
      try {
        const known = [await index.get(ref.integrity), hintFor(ref.integrity)].filter((cid) => cid !== undefined)
        const bytes = await find(ref, known, idle.controller.signal, idle)
        if (bytes === undefined) {
          const why = idle.controller.signal.aborted ? String(idle.controller.signal.reason?.message ?? 'aborted') : 'no peer has it'
          log(`ipfs: ${ref.name}@${ref.version} not from peers: ${why}`)
        }
        return bytes
      } finally {
        idle.controller.abort()
        idle.clear()
        release()
      }
    },
    hint (integrity, cid) {
      try {
        for (const hash of hashesOf(integrity)) hints.set(sriOf(hash), CID.parse(cid))
      } catch {
        // a malformed dist.cid is ignored
      }
    },
  }

  function hintFor (integrity: string): CID | undefined {
    for (const hash of hashesOf(integrity)) {
      const cid = hints.get(sriOf(hash))
      if (cid !== undefined) return cid
    }
    return undefined
  }
}
