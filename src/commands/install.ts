/**
 * `ipfs-npm install [specs]`: npm's install (npm 11's `lib/commands/install.js`) for a project.
 * Global installs never reach here: they go to the user's npm.
 */
import { resolve } from 'node:path'
import type { CommandContext } from './context.ts'
import { runReify } from './reify.ts'

export async function install (ctx: CommandContext): Promise<void> {
  const { config } = ctx
  // don't try to install the prefix into itself
  const add = config.args.filter((arg) => resolve(arg) !== config.localPrefix)
  await runReify(ctx, {
    name: 'install',
    options: { auditLevel: null, add },
    runRootScripts: add.length === 0,
    async plan (options, _pipeline, Arborist) {
      const flat = config.flat
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
