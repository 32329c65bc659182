/**
 * `ipfs-npm install [specs]`: npm's install (npm 11's `lib/commands/install.js`) for a project.
 * Global installs never reach here: they go to the user's npm. A spec naming a CID becomes the
 * registry spec of the tarball it holds (src/cid-specs.ts) before Arborist sees it.
 */
import { resolve } from 'node:path'
import { WORKSPACE_PARAMS, type Command } from './command.ts'
import type { CommandContext } from './context.ts'

async function exec (ctx: CommandContext): Promise<void> {
  const { runReify } = await import('./reify.ts')
  const { config } = ctx
  const { cidSpecOf, resolveCidSpec } = await import('../cid-specs.ts')
  // don't try to install the prefix into itself
  const specs = config.args.filter((arg) => resolve(arg) !== config.localPrefix)
  const cids = specs.map(cidSpecOf)
  await runReify(ctx, {
    name: 'install',
    options: { auditLevel: null, add: specs },
    runRootScripts: specs.length === 0,
    async plan (reifyOptions, pipeline, Arborist) {
      const flat = config.flat
      const add = await Promise.all(specs.map(async (spec, i) => {
        const cid = cids[i]
        return cid === undefined ? spec : resolveCidSpec(cid, { ...pipeline, node: pipeline.peers.node, flat })
      }))
      // a CID names one version's bytes: save exactly it, unless other specs want npm's prefix
      const options = { ...reifyOptions, add, ...(add.length > 0 && cids.every(Boolean) ? { savePrefix: '' } : {}) }
      const arb = new Arborist(options)
      const [actual] = await Promise.all([
        // the same options reify itself loads the actual tree with, so it reuses this one
        arb.loadActual({ ignoreMissing: true }),
        arb.buildIdealTree({ ...options, complete: flat.packageLockOnly || flat.dryRun }),
      ])
      // install writes lockfiles from the ideal tree: leave `resolved` as npm would have it,
      // unless npm is told to omit registry URLs from them anyway
      return { arb, options, actual, fillResolved: flat.omitLockfileRegistryResolved === true }
    },
  })
}

/** npm 11's `static description`, `usage`, `params` and aliases of `install`. */
export const install: Command = {
  name: 'install',
  description: 'Install a package',
  usage: ['[<package-spec> ...]'],
  params: ['save', 'save-exact', 'global', 'install-strategy', 'legacy-bundling', 'global-style', 'omit', 'include',
    'strict-peer-deps', 'prefer-dedupe', 'package-lock', 'package-lock-only', 'foreground-scripts', 'ignore-scripts',
    'allow-directory', 'allow-file', 'allow-git', 'allow-remote', 'allow-scripts', 'strict-allow-scripts',
    'dangerously-allow-all-scripts', 'audit', 'before', 'min-release-age', 'min-release-age-exclude', 'bin-links',
    'fund', 'dry-run', 'cpu', 'os', 'libc', ...WORKSPACE_PARAMS],
  aliases: ['add', 'i', 'in', 'ins', 'inst', 'insta', 'instal', 'isnt', 'isnta', 'isntal', 'isntall'],
  npm: true,
  reifies: true,
  exec,
}
