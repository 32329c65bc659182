/**
 * `ipfs-npm ci`: npm's clean install (npm 11's `lib/commands/ci.js`): the lockfile must exist and
 * be in sync with package.json, node_modules is emptied, nothing is saved.
 */
import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import procLog from 'proc-log'
import { npmError } from '../errors.ts'
import { moveAside } from '../extract/previous-tree.ts'
import type { TreeNode } from './arborist-types.ts'
import { commandUsageError, WORKSPACE_PARAMS, type Command } from './command.ts'
import type { CommandContext } from './context.ts'
import { getWorkspaces } from './workspaces.ts'

const { log } = procLog

/** The node_modules folders npm's ci empties: the root's and every workspace's, by npm's workspace map. */
async function nodeModulesToEmpty (root: string): Promise<string[]> {
  const paths = await getWorkspaces([], { path: root, includeWorkspaceRoot: true, relativeFrom: root })
  return [...paths.values()].map((dir) => join(dir, 'node_modules'))
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
  const [{ runReify }, locked, { keptTree }] = await Promise.all([import('./reify.ts'), import('./locked-packages.ts'), import('./kept-tree.ts')])
  await runReify(ctx, {
    name: 'ci',
    options: { packageLock: true, save: false },
    runRootScripts: true,
    async plan (baseOptions, pipeline, Arborist, extraction) {
      /** npm's first step: the lockfile's own tree, or its usage error when there is none. */
      const loadLockfileTree = async (): Promise<TreeNode> => {
        try {
          return await new Arborist(baseOptions).loadVirtual()
        } catch (err) {
          log.verbose('loadVirtual', (err as Error).stack)
          throw commandUsageError(ci, config.definitions, 'The `npm ci` command can only install with an existing package-lock.json or\n' +
            'npm-shrinkwrap.json with lockfileVersion >= 1. Run an install with npm@5 or\n' +
            'later to generate a package-lock.json file, then try again.')
        }
      }
      // A plain v2+ lockfile says itself what npm's first tree is for, so Arborist builds the
      // tree once; any other lockfile is loaded first, as npm does.
      const packages = await locked.readLockedPackages(config.localPrefix)
      let virtual = packages === undefined ? await loadLockfileTree() : undefined
      const root = config.localPrefix
      const dryRun = !!config.flat.dryRun
      // what ci will empty, known now (its errors, npm's, come after the lockfile's)
      const toEmpty = dryRun ? Promise.resolve([]) : nodeModulesToEmpty(root)
      toEmpty.catch(() => {})
      // reify replaces a node_modules that is not a folder (a link) before it loads the actual
      // tree: then reify loads it, as before
      const rootModules = join(root, 'node_modules')
      const isFolder = lstat(rootModules).then((info) => info.isDirectory(), () => true)
      // npm keeps the root's node_modules when a workspace has the root's name: whether Arborist
      // may load that tree from its hidden lockfile is found while the ideal tree is built
      // (./kept-tree.ts; an unfiltered, hoisted install only)
      const unfiltered = baseOptions.workspacesEnabled !== false && ((baseOptions.workspaces as string[] | undefined) ?? []).length === 0
      const hoisted = baseOptions.installStrategy !== 'linked' && unfiltered
      const kept = Promise.all([toEmpty, isFolder])
        .then(([dirs, folder]) => dryRun || packages === undefined || !hoisted || !folder || dirs.includes(rootModules) ? undefined
          : keptTree({ root, emptied: dirs, locked: packages, Shrinkwrap: Arborist.Shrinkwrap, resolveOptions: baseOptions }))
        .catch(() => undefined)
      // if peers will be needed, start the node while Arborist works; if tarballs will be
      // unpacked, boot a worker meanwhile (over a kept tree, Arborist's work is all on the main thread)
      if (packages !== undefined) {
        void kept.then((tree) => {
          const refs = locked.lockedTarballs(packages, new Set(config.flat.omit as string[]), tree?.locations)
          if (refs.length > 0 && !dryRun) extraction.warm()
          return pipeline.resolver.missing(refs)
        }).catch(() => {})
      }
      const arb = new Arborist(baseOptions)
      try {
        await arb.buildIdealTree()
      } catch (err) {
        // npm would have stopped at its first step with its usage error
        if (virtual === undefined) await loadLockfileTree()
        throw err
      }
      const ideal = arb.idealTree as TreeNode
      if (virtual === undefined && !locked.matchesLockedVersions(packages!, ideal)) virtual = await loadLockfileTree()
      const errors = virtual === undefined ? [] : lockfileErrors(virtual.inventory, ideal.inventory)
      if (errors.length) {
        throw commandUsageError(ci, config.definitions, '`npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. ' +
          'Please update your lock file with `npm install` before continuing.\n\n' + errors.join('\n'))
      }
      // A lockfile written under omit-lockfile-registry-resolved has no registry URL at all; npm's
      // hidden lockfile then has none either, which the same option keeps so once we fill them in.
      // Arborist reads the option only when it writes a lockfile.
      // (`isRegistryDependency` parses every spec depending on a node: asked as few times as can be)
      const nodes = [...ideal.inventory.values()].filter((node) => !node.isProjectRoot)
      const fillResolved = !nodes.some((node) => node.resolved !== null && node.isRegistryDependency) && nodes.some((node) => node.isRegistryDependency)
      if (fillResolved) arb.options.omitLockfileRegistryResolved = true
      const options = fillResolved ? { ...baseOptions, omitLockfileRegistryResolved: true } : baseOptions
      if (dryRun) return { arb, options, actual: undefined, fillResolved }
      // npm ci's emptying: each folder moved aside whole, for the extractor to take back what it can
      const dirs = await toEmpty
      const previous = await moveAside({ dirs, trash: join(config.get('cache') as string, '_ipfs-npm', 'trash') })
      const keptNodes = await kept
      // the tree reify would load now (with its options: it keeps this one), so that the plan
      // leaves out what is in place
      const loadActual = (): Promise<TreeNode> => arb.loadActual({ ignoreMissing: true })
      const actual = await isFolder ? await (keptNodes === undefined ? loadActual() : keptNodes.loading(loadActual)) : undefined
      return { arb, options, actual, fillResolved, previous }
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
