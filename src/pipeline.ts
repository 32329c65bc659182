/**
 * Assembles the pipeline from its parts (DESIGN steps 2–4): npm's cache, the upstream
 * registries, the lazily started IPFS node, the resolver and the loopback shim — and the options
 * that point Arborist at the shim. Parts are created here and passed down; none reaches back up.
 */
import { join } from 'node:path'
import procLog from 'proc-log'
import { createTarballCache } from './cache.ts'
import type { NpmConfig } from './config.ts'
import { answerPackuments, createPackuments } from './metadata/metadata.ts'
import type { PackumentSource } from './metadata/packument-source.ts'
import { checkOptions, type IpfsNpmOptions } from './options.ts'
import { createLazyPeers } from './peers.ts'
import { createPackumentRoute } from './registry/packument-route.ts'
import { createLocalVersions, type LocalVersions } from './registry/local-versions.ts'
import { startShim, type Shim, type ShimInit } from './registry/shim.ts'
import { createUpstream, type RegistryUpstream } from './registry/upstream.ts'
import { createTarballResolver } from './resolver.ts'
import { createSharingPolicy, type SharingPolicy } from './sharing.ts'
import { registryTarballUrl } from './tarball-url.ts'
import type { LazyPeers, TarballCache, TarballResolver } from './types.ts'

export interface Pipeline {
  cache: TarballCache
  upstream: RegistryUpstream
  /** What is private: shared with peers only inside a swarm (src/sharing.ts). */
  sharing: SharingPolicy
  peers: LazyPeers
  resolver: TarballResolver
  /** Packuments from peers and indexes, and where each came from. */
  metadata: PackumentSource
  /** Versions the shim adds to the registry's packuments (tarballs installed by CID). */
  localVersions: LocalVersions
  shim: Shim
  /** npm's flat options with every registry pointed at the shim, for Arborist. */
  arboristOptions: Record<string, unknown>
  stop(): Promise<void>
}

export interface PipelineInit {
  config: NpmConfig
  options: IpfsNpmOptions
  log: (message: string) => void
  /** One install rather than a long-lived server: see ResolverInit.oneRun. */
  oneRun?: boolean
  /** `serve`: the node seeds the whole cache to any IPFS node (see IpfsNodeInit.seed). */
  seed?: boolean
  /** Port for the shim; 0 (default) for a random one. */
  port?: number
  /** Each packument the registry served (`serve --index` puts them in its index). */
  onRegistryPackument?: (name: string, registry: string, text: string) => void
  /** What `serve` adds to the shim: its own routes and page, request logging, served counts. */
  shim?: Pick<ShimInit, 'extraRoutes' | 'page' | 'logRequests' | 'onServed'>
}

const { log } = procLog

/** How long a registry that neither answers nor fails is waited for before peers are asked, in ms. */
const REGISTRY_PATIENCE = 5000
/** How long a registry that failed is left alone (an install asks peers at once meanwhile), in ms. */
const REGISTRY_RETRY_AFTER = 30_000

/**
 * What Arborist's `replaceRegistryHost` must be for tarball URLs to reach the shim when npm
 * would have sent them to the configured registry (npm's `npmjs` default names the public host).
 */
function replaceRegistryHostFor (value: unknown): string {
  if (value === 'never' || value === 'always') return value
  return typeof value === 'string' && value !== 'npmjs' ? value : 'registry.npmjs.org'
}

/**
 * @example
 * const pipeline = await startPipeline({ config, options, log })
 * const arb = new Arborist({ ...pipeline.arboristOptions, path })
 */
export async function startPipeline (init: PipelineInit): Promise<Pipeline> {
  await checkOptions(init.options)
  const flat = init.config.flat
  const offline = flat.offline === true
  const cacheDir = init.config.get('cache') as string
  const upstream = createUpstream({ flat })
  const sharing = createSharingPolicy({ flat, private: init.options.private })
  // an install's node only fetches unless asked to serve (`--serve`); `serve` seeds unless `--no-serve`
  const serve = init.options.serve ?? init.seed === true
  // signed indexes are read with --index/--scope-index and announced by `serve`; without them
  // the node runs no gossipsub or fetch (a cost on every peer connection)
  const indexRecords = init.seed === true || init.options.indexes.length > 0 || init.options.scopeIndexes.length > 0
  const peers = createLazyPeers({ cacheDir, options: init.options, offline, serve, sharing, indexRecords, packuments: answerPackuments({ cacheDir, options: init.options, sharing }), seed: init.seed, log: init.log, warn: (message) => log.warn('ipfs', message) })
  const npmCache = createTarballCache({ cachePath: join(cacheDir, '_cacache'), registryFor: upstream.registryFor })
  // whatever the cache gains, peers may now fetch from us
  const cache: TarballCache = {
    ...npmCache,
    async put (ref, data) {
      // filed under the URL it stands for, which decides whether peers outside a swarm may have it
      const located = ref.resolved === undefined ? { ...ref, resolved: registryTarballUrl(upstream.registryFor(ref.name), ref.name, ref.version) } : ref
      await npmCache.put(located, data)
      peers.added(located)
    },
  }
  const metadata = createPackuments({ cacheDir, flat, options: init.options, upstream, node: peers.node, onRegistryPackument: init.onRegistryPackument, sharing, log: init.log })
  const resolver = createTarballResolver({ cache, peers, upstream, offline, oneRun: init.oneRun })
  const localVersions = createLocalVersions()
  const shim = await startShim({
    upstream,
    resolver,
    packuments: createPackumentRoute({
      source: metadata,
      indexOnly: init.options.indexOnly,
      patience: REGISTRY_PATIENCE,
      retryAfter: REGISTRY_RETRY_AFTER,
      log: init.log,
    }),
    localVersions,
    port: init.port,
    ...init.shim,
    onCidHint: peers.hint,
  })

  const scoped = Object.fromEntries(Object.keys(flat).filter((key) => /^@.*:registry$/i.test(key)).map((key) => [key, shim.url]))
  // Offline there is no one to ask but npm's cache: Arborist then reads it exactly as npm does.
  const arboristOptions: Record<string, unknown> = offline ? { ...flat } : {
    ...flat,
    ...scoped,
    registry: shim.url,
    replaceRegistryHost: replaceRegistryHostFor(flat.replaceRegistryHost),
    // the shim answers at once and has already retried upstream as npm would; a retry of the
    // shim's answer would only multiply npm's back-off (npm flattens fetch-retries into `retry`)
    retry: { ...(flat.retry as object | undefined), retries: 0 },
    // the shim reads npm's HTTP cache itself, honouring prefer-offline
    preferOffline: false,
    preferOnline: false,
  }

  return {
    cache,
    upstream,
    sharing,
    peers,
    resolver,
    metadata,
    localVersions,
    shim,
    arboristOptions,
    async stop () {
      await Promise.all([shim.close(), peers.stop(), metadata.settled()])
    },
  }
}
