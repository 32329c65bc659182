/**
 * Packuments from elsewhere than the registry (DESIGN, "Metadata over IPFS"): from the signed
 * indexes the user trusts, and from peers' npm caches — believed only when verified:
 * - a trusted index's packument is believed (its record and blocks were checked on the way);
 * - a peer's, version by version, against the registry's signing keys this machine kept: unsigned
 *   or altered versions are dropped, a packument with none left is refused;
 * - where the registry does not sign (no keys kept for it), a peer's packument is believed only
 *   inside a private network (swarm key) or with `--trust-peers`.
 * The shim asks here when the registry is unreachable, fails or is slow, or first with
 * `--prefer-index` (and for a scope that names an index); it counts where each packument came from.
 */
import type { PeerPackument } from '../ipfs/packument-protocol.ts'
import { npmError } from '../errors.ts'
import type { Packument } from './index-format.ts'
import { parseRegistryKeys, verifyPackument, type RegistryKeys } from './registry-signatures.ts'
import type { SignedIndexes } from './signed-index.ts'

/** The parts of the IPFS node this needs; the node starts on first need. */
export interface MetadataNode {
  askPeers(name: string, registry: string, timeout: number): Promise<PeerPackument[]>
  indexes: SignedIndexes
}

export interface PackumentSourceInit {
  node(): Promise<MetadataNode | undefined>
  keys: RegistryKeys
  /** The indexes trusted for `name`, in order: its scope's, then the general ones. */
  indexesFor(name: string): string[]
  /** Whether `name` is looked up in its indexes before the registry (`--prefer-index`, a scope's own index). */
  prefersIndex(name: string): boolean
  /** Peers' packuments the registry does not sign are believed (a swarm key, `--trust-peers`). */
  trustPeers: boolean
  /** Whether `name`'s metadata is private (from a registry npm sends credentials to): then peers are asked only inside a private network. */
  isPrivate(source: { name: string, url: string }): boolean
  privateNetwork: boolean
  /** The `/-/npm/v1/keys` document of the registry that serves `name` (throws when it has none or is unreachable). */
  fetchKeys(name: string): Promise<unknown>
  /** Each packument the registry served. */
  onRegistryPackument?: (name: string, registry: string, text: string) => void
  /** How long peers get to answer, in ms. */
  timeout: number
  log(msg: string): void
}

export type MetadataOrigin = 'registry' | 'cache' | 'peers' | 'index'

export interface FoundPackument {
  text: string
  origin: 'peers' | 'index'
  /** When the registry last gave it out (peers: when their npm fetched it), ms since the epoch. */
  asOf?: number
  /** The peer id, or the index name. */
  from: string
}

export interface MetadataCounts {
  registry: number
  /** npm's HTTP cache, read because the registry was unreachable. */
  cache: number
  peers: number
  index: number
  /** The oldest `fetched` time of a packument from peers. */
  peersAsOf?: number
}

export interface PackumentSource {
  /** The packument from the first trusted index that has it. */
  fromIndexes(name: string): Promise<FoundPackument | undefined>
  /** The best verified packument peers have; throws EPEERMETADATA when peers had only unbelievable ones. */
  fromPeers(name: string, registry: string, wantFull: boolean): Promise<FoundPackument | undefined>
  /** Whether `name` is looked up in its indexes before the registry. */
  prefersIndex(name: string): boolean
  /**
   * The registry served a packument: when it carries signatures and the keys kept for that
   * registry are missing or a day old, they are fetched and kept (once per run, in the
   * background; `settled` waits for it).
   */
  registryServed(name: string, registry: string, text: string): void
  /** Settles when keys being fetched are kept. */
  settled(): Promise<void>
  /** Counts one packument served, by origin. */
  count(found: FoundPackument | 'registry' | 'cache'): void
  readonly counts: MetadataCounts
}

/** Peers had the packument but none could be believed; the message names the package and the peers. */
const peerMetadataError = (message: string): Error => npmError('EPEERMETADATA', message)

export function createPackumentSource (init: PackumentSourceInit): PackumentSource {
  const counts: MetadataCounts = { registry: 0, cache: 0, peers: 0, index: 0 }

  async function fromIndexes (name: string): Promise<FoundPackument | undefined> {
    const names = init.indexesFor(name)
    if (names.length === 0) return undefined
    const node = await init.node()
    if (node === undefined) return undefined
    let firstError: unknown
    for (const index of names) {
      try {
        const packument = await node.indexes.packument(index, name)
        if (packument !== undefined) return { text: JSON.stringify(packument), origin: 'index', from: index }
      } catch (err) {
        init.log(`metadata: index ${index}: ${(err as Error).message}`)
        firstError ??= err
      }
    }
    // an index that was refused (forged, rolled back, expired) is an error, not a miss
    if (firstError !== undefined) throw firstError
    return undefined
  }

  async function fromPeers (name: string, registry: string, wantFull: boolean): Promise<FoundPackument | undefined> {
    if (init.isPrivate({ name, url: registry }) && !init.privateNetwork) return undefined
    const node = await init.node()
    if (node === undefined) return undefined
    const answers = await node.askPeers(name, registry, init.timeout)
    if (answers.length === 0) return undefined
    // newest first; among equals, the kind the client asked for
    answers.sort((a, b) => (b.fetched - a.fetched) || (Number(b.full === wantFull) - Number(a.full === wantFull)))
    const keys = await init.keys.get(registry)
    const refusals: string[] = []
    for (const answer of answers) {
      let packument: Packument
      try {
        packument = JSON.parse(answer.text) as Packument
        if (packument?.name !== name || typeof packument.versions !== 'object' || packument.versions === null) throw new Error('not its packument')
      } catch (err) {
        refusals.push(`${answer.peer} (${(err as Error).message})`)
        continue
      }
      if (keys === undefined) {
        if (init.trustPeers) return { text: answer.text, origin: 'peers', asOf: answer.fetched, from: answer.peer }
        refusals.push(`${answer.peer} (no signing keys kept for the registry: trust peers with a swarm key or --trust-peers, or use a signed index)`)
        continue
      }
      const { packument: verified, dropped } = verifyPackument(packument, keys)
      for (const { version, reason } of dropped) init.log(`metadata: ${name}@${version} from peer ${answer.peer} dropped: ${reason}`)
      if (Object.keys(verified.versions).length === 0) {
        refusals.push(`${answer.peer} (no version signed by the registry's keys)`)
        continue
      }
      return { text: dropped.length === 0 ? answer.text : JSON.stringify(verified), origin: 'peers', asOf: answer.fetched, from: answer.peer }
    }
    throw peerMetadataError(`${name}: the registry is unreachable and peers' packuments were refused: peer ${refusals.join('; peer ')}`)
  }

  const learning = new Map<string, Promise<void>>()

  return {
    fromIndexes,
    fromPeers,
    registryServed (name, registry, text) {
      init.onRegistryPackument?.(name, registry, text)
      if (learning.has(registry) || !text.includes('"signatures"')) return
      learning.set(registry, (async () => {
        if (!await init.keys.stale(registry)) return
        await init.keys.keep(registry, parseRegistryKeys(await init.fetchKeys(name)))
        init.log(`metadata: kept the signing keys of ${registry}`)
      })().catch((err: Error) => init.log(`metadata: no signing keys from ${registry}: ${err.message}`)))
    },
    async settled () {
      await Promise.all(learning.values())
    },
    prefersIndex: (name) => init.prefersIndex(name) && init.indexesFor(name).length > 0,
    count (found) {
      if (found === 'registry' || found === 'cache') {
        counts[found]++
        return
      }
      counts[found.origin]++
      if (found.origin === 'peers' && found.asOf !== undefined) counts.peersAsOf = Math.min(counts.peersAsOf ?? Infinity, found.asOf)
    },
    counts,
  }
}
