/**
 * `/ipfs-npm/integrity-cid/1.0.0`: ask a peer which CID holds the tarball with a given integrity.
 * One length-prefixed JSON request and one answer per stream, batched: the asks made within a few
 * ms go to each peer together (`{"integrities":["sha512-…",…]}` → `{"cids":["bafk…"|null,…]}`), as
 * bitswap batches its wants — one stream per tarball made a large install several times slower.
 * Askers also send `"packages":[{"name":…,"version":…}|null,…]`, one per integrity: a peer whose
 * cache keys the tarball by another digest (npm stores sha1-only lock entries under sha512) finds
 * it by name and version. The field is optional both ways: old peers ignore it or leave it out.
 * The answer for a tarball ≤ 1 MiB is its raw CID, for a larger one the root of its UnixFS DAG
 * (built on demand by the answering peer), null when the peer does not have it. Answers are
 * claims: the asker hashes what it fetches against the integrity before believing them.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { decodeJson, encodeJson } from './json-message.ts'
import type { PackageId } from './package-tarballs.ts'

export const CID_PROTOCOL = '/ipfs-npm/integrity-cid/1.0.0'

const MAX_BATCH = 256
const MAX_MESSAGE = 128 * 1024
const BATCH_DEBOUNCE = 10

/** What the peer said: a CID, `absent` (it has no such tarball) or `unknown` (no answer). */
export type CidAnswer = CID | 'absent' | 'unknown'

/** Looks an integrity (of `pkg`, when the asker said) up locally; undefined when we do not have the tarball. */
export type CidLookup = (integrity: string, pkg?: PackageId) => Promise<CID | undefined>

/** npm's limits on a package name and a version string, generously. */
const MAX_NAME = 214
const MAX_VERSION = 256

/** A well-formed `packages` item, or undefined (ignored: the integrity is looked up alone). */
function packageOf (item: unknown): PackageId | undefined {
  if (typeof item !== 'object' || item === null) return undefined
  const { name, version } = item as { name?: unknown, version?: unknown }
  if (typeof name !== 'string' || typeof version !== 'string' || name.length === 0 || version.length === 0 ||
    name.length > MAX_NAME || version.length > MAX_VERSION) return undefined
  return { name, version }
}

/** Answers the protocol from `lookup` until libp2p stops. */
export async function handleCidProtocol (libp2p: Libp2p<any>, lookup: CidLookup, timeout: number, log: (msg: string) => void): Promise<void> {
  await libp2p.handle(CID_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(timeout)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
      const { integrities, packages } = decodeJson(await lp.read({ signal })) as { integrities?: unknown, packages?: unknown }
      if (!Array.isArray(integrities) || integrities.length > MAX_BATCH || !integrities.every((i) => typeof i === 'string')) {
        throw new Error('malformed request')
      }
      const named = Array.isArray(packages) ? packages : []
      const cids = await Promise.all(integrities.map(async (integrity: string, i) => {
        try {
          return (await lookup(integrity, packageOf(named[i])))?.toString() ?? null
        } catch (err) {
          log(`ipfs: looking up ${integrity}: ${(err as Error).message}`)
          return null
        }
      }))
      await lp.write(encodeJson({ cids }), { signal })
      await stream.close({ signal })
    } catch (err) {
      log(`ipfs: cid protocol: ${(err as Error).message}`)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
}

export interface CidAsker {
  /**
   * Asks `peer` for the CID of `integrity`, the tarball of `pkg`. Never throws: a failure or an
   * abort is `unknown`.
   */
  ask(peer: PeerId, integrity: string, pkg: PackageId | undefined, signal: AbortSignal): Promise<CidAnswer>
}

interface Pending {
  integrity: string
  pkg: PackageId | undefined
  resolve(answer: CidAnswer): void
}

/** Batches asks per peer; a batch gets `timeout` ms to be answered. */
export function createCidAsker (libp2p: Libp2p<any>, timeout: number): CidAsker {
  const queues = new Map<string, { peer: PeerId, pending: Pending[] }>()

  const send = async (peer: PeerId, batch: Pending[]): Promise<void> => {
    const signal = AbortSignal.timeout(timeout)
    let stream
    try {
      stream = await libp2p.dialProtocol(peer, CID_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
      const packages = batch.map((p) => p.pkg === undefined ? null : { name: p.pkg.name, version: p.pkg.version })
      await lp.write(encodeJson({ integrities: batch.map((p) => p.integrity), packages }), { signal })
      const { cids } = decodeJson(await lp.read({ signal })) as { cids?: unknown }
      await stream.close({ signal }).catch(() => {})
      if (!Array.isArray(cids) || cids.length !== batch.length) throw new Error('malformed answer')
      batch.forEach((p, i) => p.resolve(typeof cids[i] === 'string' ? CID.parse(cids[i]) : 'absent'))
    } catch (err) {
      stream?.abort(err as Error)
      for (const p of batch) p.resolve('unknown')
    }
  }

  const flush = (key: string): void => {
    const queue = queues.get(key)
    queues.delete(key)
    if (queue === undefined) return
    for (let i = 0; i < queue.pending.length; i += MAX_BATCH) void send(queue.peer, queue.pending.slice(i, i + MAX_BATCH))
  }

  return {
    async ask (peer, integrity, pkg, signal) {
      if (signal.aborted) return 'unknown'
      const key = peer.toString()
      let queue = queues.get(key)
      if (queue === undefined) {
        queue = { peer, pending: [] }
        queues.set(key, queue)
        setTimeout(() => flush(key), BATCH_DEBOUNCE)
      }
      const pending = queue.pending
      return await new Promise<CidAnswer>((resolve) => {
        const onAbort = (): void => resolve('unknown')
        signal.addEventListener('abort', onAbort, { once: true })
        pending.push({
          integrity,
          pkg,
          resolve: (answer) => {
            signal.removeEventListener('abort', onAbort)
            resolve(answer)
          },
        })
      })
    },
  }
}
