/**
 * `ipfs-npm ci`: npm's clean install (npm 11's `lib/commands/ci.js`): the lockfile must exist and
 * be in sync with package.json, node_modules is emptied, nothing is saved.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import procLog from 'proc-log'
import { npmError } from '../errors.ts'
import { moveAside, type PreviousTree } from '../extract/previous-tree.ts'
import type { ArboristLike, TreeNode } from './arborist-types.ts'
import { commandUsageError, WORKSPACE_PARAMS, type Command } from './command.ts'
import type { CommandContext } from './context.ts'
import { getWorkspaces } from './workspaces.ts'

const require = createRequire(import.meta.url)
const { log } = procLog

/**
 * npm ci's emptying of node_modules, root and workspaces, once the lockfile is known good: each
 * is moved aside whole, for the extractor to take back what it can (./extract/previous-tree.ts).
 */
async function emptyNodeModules (root: string, cacheDir: string): Promise<PreviousTree> {
  const paths = await getWorkspaces([], { path: root, includeWorkspaceRoot: true, relativeFrom: root })
  return moveAside({ dirs: [...paths.values()].map((dir) => join(dir, 'node_modules')), trash: join(cacheDir, '_ipfs-npm', 'trash') })
}

/**
 * Whether this machine can install an optional package's platform build; the ideal tree marks
 * those it cannot (esbuild's for other systems…) inert, the lockfile's virtual tree does not.
 */
function installable (node: TreeNode): boolean {
  const checks = createRequire(require.resolve('@npmcli/arborist'))('npm-install-checks') as { checkPlatform(pkg: unknown, force: boolean): void }
  try {
    checks.checkPlatform(node.package, false)
    return true
  } catch {
    return false
  }
}

/** npm's `validate-lockfile.js`: every ideal package must be the lockfile's version. */
function lockfileErrors (virtual: Map<string, TreeNode>, ideal: Map<string, TreeNode>): string[] {
  const errors: string[] = []
  for (const [key, entry] of ideal) {
    const lock = virtual.get(key)
    if (!lock) errors.push(`Missing: ${entry.name}@${entry.version} from lock file`)
    else if (entry.version !== lock.version) errors.push(`Invalid: lock file's ${lock.name}@${lock.version} does not satisfy ${entry.name}@${entry.version}`)
  }
  return errors
}

async function exec (ctx: CommandContext): Promise<void> {
  const { config } = ctx
  if (config.get('global') || config.get('location') === 'global') {
    throw npmError('ECIGLOBAL', '`npm ci` does not work for global packages')
  }
  const [{ plannedTarballs }, { runReify }] = await Promise.all([import('./plan.ts'), import('./reify.ts')])
  await runReify(ctx, {
    name: 'ci',
    options: { packageLock: true, save: false },
    runRootScripts: true,
    async plan (baseOptions, pipeline, Arborist) {
      const virtualArb: ArboristLike = new Arborist(baseOptions)
      let virtual: TreeNode
      try {
        virtual = await virtualArb.loadVirtual()
      } catch (err) {
        log.verbose('loadVirtual', (err as Error).stack)
        throw commandUsageError(ci, config.definitions, 'The `npm ci` command can only install with an existing package-lock.json or\n' +
          'npm-shrinkwrap.json with lockfileVersion >= 1. Run an install with npm@5 or\n' +
          'later to generate a package-lock.json file, then try again.')
      }
      const inventory = new Map(virtual.inventory)
      // the lockfile is the plan: if peers will be needed, start the node while Arborist works
      const omit = new Set(config.flat.omit as string[])
      const locked = plannedTarballs(virtual, undefined, { omit, registryFor: pipeline.upstream.registryFor })
      void pipeline.resolver.missing(locked.filter((item) => !item.optional || installable(item.node)).map((item) => item.ref)).catch(() => {})
      // A lockfile written under omit-lockfile-registry-resolved has no registry URL at all; npm's
      // hidden lockfile then has none either, which the same option keeps so once we fill them in.
      const registryNodes = [...inventory.values()].filter((node) => node.isRegistryDependency && !node.isProjectRoot)
      const fillResolved = registryNodes.length > 0 && registryNodes.every((node) => node.resolved === null)
      const options = fillResolved ? { ...baseOptions, omitLockfileRegistryResolved: true } : baseOptions
      const arb = new Arborist(options)
      await arb.buildIdealTree()
      const errors = lockfileErrors(inventory, (arb.idealTree as TreeNode).inventory)
      if (errors.length) {
        throw commandUsageError(ci, config.definitions, '`npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. ' +
          'Please update your lock file with `npm install` before continuing.\n\n' + errors.join('\n'))
      }
      const previous = config.flat.dryRun ? undefined : await emptyNodeModules(config.localPrefix, config.get('cache') as string)
      return { arb, options, actual: undefined, fillResolved, previous }
    },
  })
}

/** npm 11's `static description`, `usage`, `params` and aliases of `ci`. */
export const ci: Command = {
  name: 'ci',
  description: 'Clean install a project',
  usage: [''],
  params: ['install-strategy', 'legacy-bundling', 'global-style', 'omit', 'include', 'strict-peer-deps',
    'foreground-scripts', 'ignore-scripts', 'allow-directory', 'allow-file', 'allow-git', 'allow-remote',
    'allow-scripts', 'strict-allow-scripts', 'dangerously-allow-all-scripts', 'audit', 'bin-links', 'fund', 'dry-run',
    ...WORKSPACE_PARAMS],
  aliases: ['clean-install', 'ic', 'install-clean', 'isntall-clean'],
  npm: true,
  reifies: true,
  exec,
}
