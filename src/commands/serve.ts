/**
 * `ipfs-npm serve`: a long-lived node plus the registry shim on a fixed loopback port. Peers get
 * every tarball in npm's cache; any npm client (npm, yarn, pnpm, bun) can use the shim with
 * `--registry http://127.0.0.1:9595/`. `GET /-/ipfs-npm/info` says who and where the node is, and
 * which indexes it publishes: with `--index` alone, every packument it serves goes into this
 * machine's own signed index (src/metadata/index-publisher.ts), and whenever a publish on this
 * cache moves that index, it is re-announced (src/index-announcer.ts). Pinned tarballs are put
 * back into npm's cache whenever it loses them (src/pins.ts).
 *
 * It logs each request at npm's `http` level, counts what it served (per client and origin), and
 * shows it: the status page (`GET /` in a browser) and `GET /-/ipfs-npm/status`, which
 * `ipfs-npm status` prints. Unknown flags and arguments are an `EUSAGE`.
 */
import { join } from 'node:path'
import procLog from 'proc-log'
import type { ConfigDefinition, NpmConfig } from '../config.ts'
import { npmError, usageError } from '../errors.ts'
import type { IndexPublisher } from '../metadata/index-publisher.ts'
import { OWN_INDEX } from '../options.ts'
import type { ServeStatus } from '../status.ts'
import { commandUsageError, type Command } from './command.ts'
import type { CommandContext } from './context.ts'
import { untilStopped } from './until-stopped.ts'

const { log } = procLog

/** How long after the last new packument the index is re-published, in ms. */
const PUBLISH_DEBOUNCE = 1000
/** How often serve re-signs its index's record when nothing changed (records live 7 days), in ms. */
const PUBLISH_REFRESH = 24 * 3600_000

/** Flags npm does not know, and arguments: a typo must not start a server that ignores it. */
function checkUsage (config: NpmConfig, definitions: Record<string, ConfigDefinition>): void {
  const unknown = config.unknownCliFlags()
  if (unknown.length > 0) throw commandUsageError(serve, definitions, `Unknown flag${unknown.length === 1 ? '' : 's'}: ${unknown.map((flag) => `--${flag}`).join(', ')}`)
  if (config.args.length > 0) throw commandUsageError(serve, definitions, `serve takes no arguments, got: ${config.args.join(' ')}`)
}

async function exec (ctx: CommandContext): Promise<void> {
  const { config, options, reporter } = ctx
  checkUsage(config, config.definitions)
  const [{ startPipeline }, { createServedTally }, { createCacheStats }, { statusPage }, { ownVersion }] = await Promise.all([
    import('../pipeline.ts'), import('../registry/served.ts'), import('../cache-stats.ts'), import('../registry/status-page.ts'), import('../version.ts'),
  ])
  config.logWarnings()
  const tally = createServedTally()
  const cacheStats = createCacheStats(join(config.get('cache') as string, '_cacache'))
  const startedAt = Date.now()
  let status: () => Promise<ServeStatus | { starting: true }> = async () => ({ starting: true })
  let info: () => unknown = () => ({ starting: true })
  let publisher: IndexPublisher | undefined
  let stopKeeping = (): void => {}
  const pipeline = await startPipeline({
    config,
    options,
    port: options.port,
    seed: true,
    log: (msg) => log.verbose('ipfs', msg),
    shim: {
      extraRoutes: { info: () => info(), status: () => status() },
      page: async () => {
        const now = await status()
        return 'starting' in now ? '<!doctype html><title>ipfs-npm serve</title><p>starting…</p>' : statusPage(now)
      },
      logRequests: true,
      onServed: tally.record,
    },
    onRegistryPackument: (name, registry, text) => publisher?.add(name, registry, text),
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw npmError('EADDRINUSE', `port ${options.port} on 127.0.0.1 is in use (another ipfs-npm serve?); choose one with --port`)
    throw err
  })
  try {
    const node = await pipeline.peers.node()
    if (node === undefined) throw usageError('ipfs-npm serve needs the network: it cannot run with --offline')
    let published: string[] = []
    if (options.indexes.includes(OWN_INDEX)) {
      const { createIndexPublisher } = await import('../metadata/index-publisher.ts')
      const index = await node.indexes.open()
      publisher = createIndexPublisher({ index, cidOf: node.cidOf, isPrivate: pipeline.sharing.isPrivate, debounce: PUBLISH_DEBOUNCE, refresh: PUBLISH_REFRESH, log: (msg) => log.verbose('ipfs', msg) })
      // the record exists from the start, so clients resolve the name before the first change
      await index.publish()
      published = [`/ipns/${index.name}`]
    }
    const { addTarball } = await import('../ipfs/index.ts')
    const { createPinStore, keepPins } = await import('../pins.ts')
    const { announceIndexes } = await import('../index-announcer.ts')
    const cacheDir = config.get('cache') as string
    const pins = keepPins({ store: createPinStore(cacheDir), cache: pipeline.cache, cacheDir, addTarball: async (bytes) => addTarball(cacheDir, bytes), log: (msg) => log.info('pin', msg) })
    const indexes = await announceIndexes({ stateDir: join(cacheDir, '_ipfs-npm'), open: async () => node.indexes.open(), log: (msg) => log.info('index', msg) })
    stopKeeping = () => {
      pins.stop()
      indexes.stop()
    }
    info = () => ({ ...node.info(), indexes: [...new Set([...published, ...indexes.names()])] })
    const version = ownVersion()
    status = async () => {
      const { peerId, addresses, peers, served } = node.info()
      return {
        version,
        registry: pipeline.shim.url,
        startedAt,
        node: { peerId, addresses, peers, bitswap: served },
        http: tally.summary(),
        cache: await cacheStats(),
      }
    }
    const { peerId, addresses } = node.info()
    reporter.output(`ipfs-npm serve: registry ${pipeline.shim.url} (use it with --registry), peer ${peerId}`)
    for (const address of addresses) reporter.output(`  listening on ${address}`)
    for (const index of published) reporter.output(`  publishing the packuments it serves to index ${index}`)
    reporter.output(options.serve === false ? 'Not serving peers (--no-serve). Ctrl-C to stop.' : `Serving npm's cache to peers (private packages only inside a swarm). Status: ${pipeline.shim.url} in a browser, or ipfs-npm status. Ctrl-C to stop.`)
    await untilStopped()
  } finally {
    await publisher?.flush()
    stopKeeping()
    await pipeline.stop()
  }
}

export const serve: Command = {
  name: 'serve',
  description: 'Serve npm\'s cache to IPFS peers, and a registry on 127.0.0.1 to any npm client',
  usage: [''],
  params: ['port', 'peer', 'listen', 'mdns', 'bootstrap', 'cid-map', 'peer-timeout', 'swarm-key', 'serve', 'private', 'index', 'scope-index', 'prefer-index', 'index-only', 'trust-peers', 'registry', 'cache', 'offline'],
  aliases: [],
  npm: false,
  exec,
}
