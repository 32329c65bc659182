/**
 * Drives Arborist the way npm's own `install` and `ci` commands do (npm 11's
 * `lib/commands/install.js`, `ci.js`, `arborist-cmd.js`, `reify-finish.js`), with the registry
 * pointed at our shim and the fetch phase (DESIGN step 6) between plan and reify.
 */
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import procLog from 'proc-log'
import { createExtractPool } from '../extract/pool.ts'
import { installExtractor } from '../extract/extractor.ts'
import { moveAside, type PreviousTree } from '../extract/previous-tree.ts'
import { startFetchPhase, type FetchPhase } from '../fetch-phase.ts'
import { startPipeline, type Pipeline } from '../pipeline.ts'
import { resolveAllowScripts, strictAllowScriptsPreflight, warnUnreviewedScripts } from './allow-scripts.ts'
import type { ArboristClass, ArboristLike, ArboristOptions, TreeNode } from './arborist-types.ts'
import type { CommandContext } from './context.ts'
import { fillRegistryResolved, plannedTarballs, type PlannedTarball } from './plan.ts'
import { reifyOutput } from './reify-output.ts'

const require = createRequire(import.meta.url)
const { log } = procLog

/** The lifecycle scripts npm runs for the root package after install and ci, in npm's order. */
const ROOT_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare']

/** The workspaces `-w`/`--workspaces` select, as npm's `setWorkspaces()` finds them; undefined when none. */
async function selectedWorkspaces (ctx: CommandContext): Promise<Map<string, string> | undefined> {
  const { config } = ctx
  const filters = config.get('workspace') as string[]
  if (!config.get('workspaces') && filters.length === 0) return undefined
  const relativeFrom = relative(config.localPrefix, process.cwd()).startsWith('..') ? config.localPrefix : process.cwd()
  return getWorkspaces(filters, { path: config.localPrefix, includeWorkspaceRoot: false, relativeFrom })
}

/** npm's `get-workspaces.js`: workspace names to paths, filtered by `-w` values. */
export async function getWorkspaces (filters: string[], init: { path: string, includeWorkspaceRoot: boolean, relativeFrom: string }): Promise<Map<string, string>> {
  const pkgJson = require('@npmcli/package-json') as { normalize(path: string): Promise<{ content: { name?: string } }> }
  const mapWorkspaces = require('@npmcli/map-workspaces') as (init: { cwd: string, pkg: unknown }) => Promise<Map<string, string>>
  const { minimatch } = require('minimatch') as { minimatch(path: string, pattern: string): boolean }
  const globify = (pattern: string): string => pattern.split('\\').join('/')
  const { content: pkg } = await pkgJson.normalize(init.path)
  const workspaces = await mapWorkspaces({ cwd: init.path, pkg })
  let res = new Map<string, string>()
  if (init.includeWorkspaceRoot) res.set(pkg.name ?? '', init.path)
  if (filters.length === 0) res = new Map([...res, ...workspaces])
  for (const filter of filters) {
    for (const [name, path] of workspaces) {
      let relativePath = relative(init.relativeFrom, path)
      if (filter.startsWith('./')) relativePath = `./${relativePath}`
      const relativeFilter = relative(init.path, filter)
      if (filter === name || resolve(init.relativeFrom, filter) === path ||
        minimatch(relativePath, `${globify(relativeFilter)}/*`) || minimatch(relativePath, `${globify(filter)}/*`)) {
        res.set(name, path)
      }
    }
  }
  if (res.size === 0) {
    throw new Error(`No workspaces found${filters.length ? `:\n  ${filters.map((f) => `--workspace=${f}`).join(' ')}` : '!'}`)
  }
  return res
}

async function readRootPackage (path: string): Promise<Record<string, unknown>> {
  const pkgJson = require('@npmcli/package-json') as { normalize(path: string): Promise<{ content: Record<string, unknown> }> }
  try {
    return (await pkgJson.normalize(path)).content
  } catch {
    // npm reads it only for the script policy; Arborist reports a broken package.json itself
    return {}
  }
}

/** A mode's plan: the Arborist to reify with, the ideal tree built. */
export interface Plan {
  arb: ArboristLike
  /** The options to reify with. */
  options: ArboristOptions
  /** The actual tree to diff against for the fetch phase; undefined when node_modules starts empty. */
  actual: TreeNode | undefined
  /** Whether no lockfile will be written with registry `resolved` URLs filled in (see fillRegistryResolved). */
  fillResolved: boolean
  /** The tree `ci` moved aside, deleted once the new one is in place. */
  previous?: PreviousTree
}

/** Everything a mode (install or ci) adds to npm's common steps. */
export interface ReifyMode {
  name: 'install' | 'ci'
  /** Arborist options on top of the shared ones. */
  options: Record<string, unknown>
  /** Builds (and checks) the ideal tree. */
  plan(options: ArboristOptions, pipeline: Pipeline, Arborist: ArboristClass): Promise<Plan>
  /** Whether root lifecycle scripts run afterwards. */
  runRootScripts: boolean
}

/**
 * The fetch phase for a plan (DESIGN step 6), started before reify and running beside it: every
 * tarball the plan needs and the cache lacks is fetched at once, and each package is unpacked as
 * soon as its own tarball is here. Nothing is fetched offline: Arborist then fails exactly where
 * and how npm does.
 */
function fetchTarballs (planned: PlannedTarball[], init: { pipeline: Pipeline, flat: Record<string, unknown>, fillResolved: boolean }): FetchPhase {
  const { pipeline, flat } = init
  // resolved URLs also name linked-store folders, and their absence makes pacote read the
  // manifest (which marks bins executable even with --no-bin-links): fill only elsewhere
  if (init.fillResolved && flat.installStrategy !== 'linked' && flat.binLinks !== false) {
    fillRegistryResolved(planned, flat.offline ? pipeline.upstream.registryFor : () => pipeline.shim.url)
  }
  return startFetchPhase(planned, { resolver: pipeline.resolver, offline: flat.offline === true })
}

/** Arborist's reify, with our extractor unpacking the registry tarballs `phase` brings. */
async function reifyWith (arb: ArboristLike, options: ArboristOptions, phase: FetchPhase | undefined, previous: PreviousTree | undefined): Promise<void> {
  if (phase === undefined) {
    await arb.reify(options)
    return
  }
  const pacote = createRequire(require.resolve('@npmcli/arborist'))('pacote') as Parameters<typeof installExtractor>[0]['pacote']
  const pool = createExtractPool()
  const extractor = installExtractor({ pacote, pool, source: phase, previous })
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
  const Arborist = require('@npmcli/arborist') as ArboristClass
  const workspaces = await selectedWorkspaces(ctx)
  const allowScripts = resolveAllowScripts(config, await readRootPackage(where))
  const npmVersion = (require(join(ctx.npm.root, 'package.json')) as { version: string }).version

  const pipeline = await startPipeline({ config, options: ctx.options, oneRun: true, log: (msg) => log.verbose('ipfs', msg) })
  let previous: PreviousTree | undefined
  try {
    const plan = await mode.plan({
      ...pipeline.arboristOptions,
      npmVersion,
      npmCommand: mode.name,
      path: where,
      workspaces: workspaces === undefined ? undefined : [...workspaces.keys()],
      allowScripts,
      ...mode.options,
    }, pipeline, Arborist)
    const { arb, options, actual, fillResolved } = plan
    previous = plan.previous
    await strictAllowScriptsPreflight(arb, flat)
    const phase = arb.idealTree && !flat.dryRun && !flat.packageLockOnly
      ? fetchTarballs(plannedTarballs(arb.idealTree, actual, { omit: new Set(flat.omit as string[]), registryFor: pipeline.upstream.registryFor }), { pipeline, flat, fillResolved })
      : undefined
    await reifyWith(arb, options, phase, previous)
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
    await Promise.all([pipeline.stop(), previous?.remove()])
  }
}

/**
 * npm ci's emptying of node_modules, root and workspaces, once the lockfile is known good: each
 * is moved aside whole, for the extractor to take back what it can (./extract/previous-tree.ts).
 */
export async function emptyNodeModules (root: string, cacheDir: string): Promise<PreviousTree> {
  const paths = await getWorkspaces([], { path: root, includeWorkspaceRoot: true, relativeFrom: root })
  return moveAside({ dirs: [...paths.values()].map((dir) => join(dir, 'node_modules')), trash: join(cacheDir, '_ipfs-npm', 'trash') })
}
