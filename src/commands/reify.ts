/**
 * Drives Arborist the way npm's own `install` and `ci` commands do (npm 11's
 * `lib/commands/install.js`, `ci.js`, `arborist-cmd.js`, `reify-finish.js`), with the registry
 * pointed at our shim, the fetch phase (DESIGN step 6) started as soon as the plan is known and
 * running beside reify, and our extractor (step 7) unpacking each registry tarball as it arrives.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import procLog from 'proc-log'
import { createExtractPool, type ExtractPool } from '../extract/pool.ts'
import { installExtractor } from '../extract/extractor.ts'
import type { PreviousTree } from '../extract/previous-tree.ts'
import { startFetchPhase, type FetchPhase } from '../fetch-phase.ts'
import { startPipeline, type Pipeline } from '../pipeline.ts'
import type { TarballRef } from '../types.ts'
import { projectScriptPolicy, strictAllowScriptsPreflight, warnUnreviewedScripts } from './allow-scripts.ts'
import type { ArboristClass, ArboristLike, ArboristOptions } from './arborist-types.ts'
import type { CommandContext } from './context.ts'
import { fillResolvedWhereSafe, plannedTarballs, type ReifyMode } from './plan.ts'
import { deferModules } from './deferred-modules.ts'
import { memoizeDepValid } from './dep-valid-memo.ts'
import { memoizeHostedGitUrls } from './hosted-git-memo.ts'
import { installNamedEdgeIndex } from './named-edge-index.ts'
import { memoizeRegistryDependency } from './registry-dependency-memo.ts'
import { reifyOutput } from './reify-output.ts'
import { selectedWorkspaces, shareWorkspaceMaps } from './workspaces.ts'

const require = createRequire(import.meta.url)
const { log } = procLog

/** The lifecycle scripts npm runs for the root package after install and ci, in npm's order. */
const ROOT_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare']

/** Arborist's reify, with our extractor unpacking the registry tarballs `phase` brings. */
async function reifyWith (arb: ArboristLike, options: ArboristOptions, init: { phase: FetchPhase | undefined, previous: PreviousTree | undefined, pool: (warm: number) => ExtractPool, warm: number, pipeline: Pipeline }): Promise<void> {
  const { phase, previous, pipeline } = init
  if (phase === undefined) {
    await arb.reify(options)
    return
  }
  const pacote = createRequire(require.resolve('@npmcli/arborist'))('pacote') as Parameters<typeof installExtractor>[0]['pacote']
  const pool = init.pool(init.warm)
  // what the workers read from the cache themselves is counted here, once per tarball
  const fromCache = new Set<string>()
  const cache = {
    file: pipeline.cache.file,
    counted (ref: TarballRef) {
      if (fromCache.has(ref.integrity)) return
      fromCache.add(ref.integrity)
      pipeline.resolver.counts.cache++
    },
  }
  const extractor = installExtractor({ pacote, pool, source: phase, previous, cache })
  try {
    await arb.reify(options)
  } finally {
    extractor.restore()
    // fetches under way end before the pipeline stops
    await Promise.all([pool.close(), phase.done.catch(() => {})])
  }
}

/** Runs install or ci: pipeline up, plan, fetch phase, reify, root scripts, summary. */
export async function runReify (ctx: CommandContext, mode: ReifyMode): Promise<void> {
  const { config, reporter } = ctx
  // npm's arborist-cmd: outside a project, audit defaults to off
  if (config.isDefault('audit') && !config.localPackage) config.set('audit', false)
  config.logWarnings()
  const flat = config.flat
  const where = config.localPrefix
  const arboristMain = require.resolve('@npmcli/arborist')
  deferModules(arboristMain)
  shareWorkspaceMaps(arboristMain)
  const depValid = memoizeDepValid(arboristMain)
  const Arborist = require('@npmcli/arborist') as ArboristClass
  installNamedEdgeIndex(arboristMain)
  const workspaces = await selectedWorkspaces(config)
  const allowScripts = await projectScriptPolicy(config, where)
  const npmVersion = (require(join(ctx.npm.root, 'package.json')) as { version: string }).version

  const pipeline = await startPipeline({ config, options: ctx.options, oneRun: true, log: (msg) => log.verbose('ipfs', msg) })
  let previous: PreviousTree | undefined
  // made when first asked for: by a plan that knows early that tarballs will be unpacked (its
  // workers boot while Arborist builds trees on the main thread), else by reify; closed after
  // reify, or at the end if reify never came
  let pool: ExtractPool | undefined
  let ended = false
  const extractPool = (warm: number): ExtractPool => (pool ??= createExtractPool({ size: ctx.options.extractWorkers || undefined, warm }))
  const gitUrls = memoizeHostedGitUrls(createRequire(arboristMain).resolve('npm-package-arg'))
  const registryDeps = memoizeRegistryDependency(arboristMain)
  try {
    const plan = await mode.plan({
      ...pipeline.arboristOptions,
      npmVersion,
      npmCommand: mode.name,
      path: where,
      workspaces: workspaces === undefined ? undefined : [...workspaces.keys()],
      allowScripts,
      ...mode.options,
    }, pipeline, Arborist, { warm: () => { if (!ended) extractPool(1) } })
    const { arb, options, actual, fillResolved } = plan
    previous = plan.previous
    await strictAllowScriptsPreflight(arb, flat)
    let phase: FetchPhase | undefined
    let warm = 0
    // npm's reify takes the signal from here on (its fetches are inside it)
    ctx.reifying?.()
    if (arb.idealTree && !flat.dryRun && !flat.packageLockOnly) {
      const { registryFor } = pipeline.upstream
      const planned = plannedTarballs(arb.idealTree, actual, { omit: new Set(flat.omit as string[]), registryFor })
      // offline with tarballs missing, Arborist must fail where and how npm does: nothing filled in
      const failsOffline = flat.offline === true && (await pipeline.resolver.missing(planned.map((item) => item.ref))).length > 0
      if (!failsOffline) fillResolvedWhereSafe(planned, { fillResolved, flat, registryFor, reifyRegistry: pipeline.shim.url })
      phase = startFetchPhase(planned, { resolver: pipeline.resolver, offline: flat.offline === true })
      // a worker boots while reify loads its trees (a third of a second under load)
      warm = planned.length > 0 ? 1 : 0
    }
    await reifyWith(arb, options, { phase, previous, pool: extractPool, warm, pipeline })
    if (mode.runRootScripts && !flat.ignoreScripts) {
      const runScript = require('@npmcli/run-script') as (opts: Record<string, unknown>) => Promise<unknown>
      const scriptShell = config.get('script-shell') as string | undefined || undefined
      for (const event of ROOT_SCRIPTS) {
        await runScript({ path: where, args: [], scriptShell, stdio: 'inherit', event })
      }
    }
    await warnUnreviewedScripts(arb, flat)
    // the peers that sent blocks, asked of a node only if one was started
    const servedBy = pipeline.peers.started ? (await pipeline.peers.node())?.info().receivedFrom.map((share) => share.peer) : undefined
    reifyOutput({ arb, reporter, flat, origins: pipeline.resolver.counts, servedBy, metadata: pipeline.metadata.counts, started: ctx.started, showDiff: !!(flat.dryRun || config.get('long')) })
  } catch (err) {
    throw pipeline.shim.explain(err)
  } finally {
    ended = true
    depValid.restore()
    gitUrls.restore()
    registryDeps.restore()
    await Promise.all([pool?.close(), pipeline.stop(), previous?.remove()])
  }
}
