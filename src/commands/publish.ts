/**
 * `ipfs-npm publish`: to a signed index when one is configured for the package (`--index`,
 * `index =` or its `@scope:index =` in `.ipfs-npmrc`: src/publish-to-index.ts), as
 * `@scope:registry` and `registry` decide where npm publishes; otherwise npm's own publish, and
 * then the CID of what it published (src/publish-with-npm.ts).
 */
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import procLog from 'proc-log'
import { usageError } from '../errors.ts'
import type { IpfsNpmOptions } from '../options.ts'
import { commandUsageError, type Command } from './command.ts'
import type { CommandContext } from './context.ts'

const { log } = procLog

/** The package name in `dir`'s package.json, if it has one. */
async function packageName (dir: string): Promise<string | undefined> {
  try {
    const { name } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown }
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}

/** The index a package goes to: its scope's (`@scope=name` entries), else the first one named; undefined: none. */
function indexTarget (options: IpfsNpmOptions, name: string | undefined): string | undefined {
  const scope = name?.startsWith('@') === true ? name.split('/')[0] : undefined
  const scoped = scope === undefined ? undefined : options.scopeIndexes.find((entry) => entry.startsWith(`${scope}=`))
  return scoped?.slice(scope!.length + 1) ?? options.indexes[0]
}

async function exec (ctx: CommandContext): Promise<void> {
  const { config, reporter, options } = ctx
  // `publish [<dir>]` as npm: the project, or the folder named (a tarball or a spec only to npm)
  if (config.args.length > 1) throw commandUsageError(publish, config.definitions, '')
  const dir = resolve(config.localPrefix, config.args[0] ?? '.')
  const name = await packageName(dir)
  const target = indexTarget(options, name)
  if (target !== undefined && config.args.length > 0 && name === undefined) {
    throw usageError(`${config.args[0]} is not a package folder: only a folder (or the current project) is published to an index`)
  }
  if (target === undefined) {
    const { publishWithNpm } = await import('../publish-with-npm.ts')
    await publishWithNpm(ctx)
    return
  }
  config.logWarnings()
  const { createTarballCache } = await import('../cache.ts')
  const { createLazyPeers } = await import('../peers.ts')
  const { publishToIndex } = await import('../publish-to-index.ts')
  const { createUpstream } = await import('../registry/upstream.ts')
  const cacheDir = config.get('cache') as string
  const { registryFor } = createUpstream({ flat: config.flat })
  const { createSharingPolicy } = await import('../sharing.ts')
  const sharing = createSharingPolicy({ flat: config.flat, private: options.private })
  const peers = createLazyPeers({ cacheDir, options, offline: config.flat.offline === true, sharing, log: (msg) => log.verbose('ipfs', msg) })
  try {
    await publishToIndex({
      dir,
      config,
      npm: ctx.npm,
      cache: createTarballCache({ cachePath: join(cacheDir, '_cacache'), registryFor }),
      target,
      registryFor,
      node: peers.node,
      privateNetwork: options.swarmKey !== undefined,
      output: (line) => reporter.output(line),
      notice: (message) => log.notice('', message),
    })
  } finally {
    await peers.stop()
  }
}

/** npm 11's `publish`, as npm describes it (our `--index` and `--seed` are in the README's table). */
export const publish: Command = {
  name: 'publish',
  description: 'Publish a package',
  usage: ['<package-spec>'],
  params: ['tag', 'access', 'dry-run', 'otp', 'workspace', 'workspaces', 'include-workspace-root', 'provenance'],
  aliases: [],
  npm: true,
  exec,
}
