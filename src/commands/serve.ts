/**
 * `ipfs-npm serve`: a long-lived node plus the registry shim on a fixed loopback port. Peers get
 * every tarball in npm's cache; any npm client (npm, yarn, pnpm, bun) can use the shim with
 * `--registry http://127.0.0.1:9595/`. `GET /-/ipfs-npm/info` says who and where the node is.
 */
import procLog from 'proc-log'
import { npmError, usageError } from '../errors.ts'
import type { Command } from './command.ts'
import type { CommandContext } from './context.ts'

const { log } = procLog

async function exec (ctx: CommandContext): Promise<void> {
  const { startPipeline } = await import('../pipeline.ts')
  const { config, options, reporter } = ctx
  config.logWarnings()
  let info: () => unknown = () => ({ starting: true })
  const pipeline = await startPipeline({
    config,
    options,
    port: options.port,
    log: (msg) => log.verbose('ipfs', msg),
    extraRoutes: { info: () => info() },
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw npmError('EADDRINUSE', `port ${options.port} on 127.0.0.1 is in use (another ipfs-npm serve?); choose one with --port`)
    throw err
  })
  try {
    const node = await pipeline.peers.node()
    if (node === undefined) throw usageError('ipfs-npm serve needs the network: it cannot run with --offline')
    info = () => node.info()
    const { peerId, addresses } = node.info()
    reporter.output(`ipfs-npm serve: registry ${pipeline.shim.url} (use it with --registry), peer ${peerId}`)
    for (const address of addresses) reporter.output(`  listening on ${address}`)
    reporter.output('Serving npm\'s cache to peers. Ctrl-C to stop.')
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
  } finally {
    await pipeline.stop()
  }
}

export const serve: Command = {
  name: 'serve',
  description: 'Serve npm\'s cache to IPFS peers, and a registry on 127.0.0.1 to any npm client',
  usage: [''],
  params: ['port', 'peer', 'listen', 'mdns', 'bootstrap', 'peer-timeout', 'swarm-key', 'registry', 'cache', 'offline'],
  aliases: [],
  npm: false,
  exec,
}
