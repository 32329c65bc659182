/**
 * Metadata over IPFS, assembled for the pipeline from npm's config and our options: what this
 * machine answers peers asking for packuments, and where the shim turns when the registry does
 * not answer. Nothing here loads libp2p: the node comes from the lazy peers, on first need.
 */
import { join } from 'node:path'
import type { FlatOptions } from '../config.ts'
import type { IpfsNode } from '../ipfs/index.ts'
import type { RegistryUpstream } from '../registry/upstream.ts'
import { bodyBytes } from '../registry/packument.ts'
import type { IpfsNpmOptions } from '../options.ts'
import type { SharingPolicy } from '../sharing.ts'
import { createCachedPackuments, type PackumentLookup } from './cached-packuments.ts'
import { createPackumentSource, type PackumentSource } from './packument-source.ts'
import { createRegistryKeys } from './registry-signatures.ts'

export interface MetadataInit {
  cacheDir: string
  flat: FlatOptions
  options: IpfsNpmOptions
  upstream: RegistryUpstream
  /** The IPFS node, started on first call (undefined offline). */
  node(): Promise<IpfsNode | undefined>
  /** Each packument the registry served. */
  onRegistryPackument?: (name: string, registry: string, text: string) => void
  /** What is private (src/sharing.ts): such packuments are neither given to nor asked of peers outside a swarm. */
  sharing: SharingPolicy
  log(msg: string): void
}

const scopeOf = (name: string): string | undefined => name.startsWith('@') ? name.split('/')[0] : undefined

/** `--scope-index @myco=k51…` entries, by scope. */
function scopeIndexes (entries: readonly string[]): Map<string, string[]> {
  const byScope = new Map<string, string[]>()
  for (const entry of entries) {
    const at = entry.indexOf('=')
    const scope = entry.slice(0, at)
    byScope.set(scope, [...(byScope.get(scope) ?? []), entry.slice(at + 1)])
  }
  return byScope
}

/** What this machine answers peers asking for packuments: npm's HTTP cache, private ones only inside a swarm. */
export function answerPackuments (init: Pick<MetadataInit, 'cacheDir' | 'options' | 'sharing'>): PackumentLookup {
  return createCachedPackuments({ cachePath: join(init.cacheDir, '_cacache'), isPrivate: init.sharing.isPrivate, privateNetwork: init.options.swarmKey !== undefined })
}

/** Where the shim turns for packuments the registry does not give. */
export function createPackuments (init: MetadataInit): PackumentSource {
  const { options, upstream } = init
  const privateNetwork = options.swarmKey !== undefined
  const scoped = scopeIndexes(options.scopeIndexes)
  const ofScope = (name: string): string[] => scoped.get(scopeOf(name) ?? '') ?? []
  return createPackumentSource({
    node: init.node,
    keys: createRegistryKeys(join(init.cacheDir, '_ipfs-npm')),
    indexesFor: (name) => [...ofScope(name), ...options.indexes],
    prefersIndex: (name) => options.preferIndex || ofScope(name).length > 0,
    trustPeers: options.trustPeers || privateNetwork,
    isPrivate: init.sharing.isPrivate,
    privateNetwork,
    timeout: options.peerTimeout,
    async fetchKeys (name) {
      const answer = await upstream.request({ method: 'GET', path: '-/npm/v1/keys', name, headers: { accept: 'application/json' } })
      if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`)
      return JSON.parse((await bodyBytes(answer)).toString('utf8'))
    },
    onRegistryPackument: init.onRegistryPackument,
    log: init.log,
  })
}
