/**
 * Drives Arborist the way npm's own `install` and `ci` commands do (npm 11's
 * `lib/commands/install.js`, `ci.js`, `arborist-cmd.js`, `reify-finish.js`), with the registry
 * pointed at our shim and the fetch phase (DESIGN step 6) between plan and reify.
 */
import { readdir, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import procLog from 'proc-log'
import { missingFromCache, runFetchPhase, uniqueTarballs } from '../fetch-phase.ts'
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
 * The fetch phase for a plan (DESIGN step 6): every tarball the plan needs and the cache lacks is
 * put into the cache before reify, which then reads each by digest and asks no one for it.
 * Nothing is fetched offline: Arborist then fails exactly where and how npm does.
 */
async function fetchTarballs (planned: PlannedTarball[], init: { pipeline: Pipeline, flat: Record<string, unknown>, fillResolved: boolean }): Promise<void> {
  const { pipeline, flat } = init
  const tarballs = uniqueTarballs(planned)
  const missing = await missingFromCache(pipeline.cache, tarballs.map((item) => item.ref))
  pipeline.resolver.counts.cache += tarballs.length - missing.length
  if (flat.offline && missing.length > 0) return
  // resolved URLs also name linked-store folders, and their absence makes pacote read the
  // manifest (which marks bins executable even with --no-bin-links): fill only elsewhere
  if (init.fillResolved && flat.installStrategy !== 'linked' && flat.binLinks !== false) {
    fillRegistryResolved(planned, flat.offline ? pipeline.upstream.registryFor : () => pipeline.shim.url)
  }
  await runFetchPhase(planned, missing, { resolver: pipeline.resolver, onMissing: () => { void pipeline.peers.node().catch(() => {}) } })
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
  try {
    const { arb, options, actual, fillResolved } = await mode.plan({
      ...pipeline.arboristOptions,
      npmVersion,
      npmCommand: mode.name,
      path: where,
      workspaces: workspaces === undefined ? undefined : [...workspaces.keys()],
      allowScripts,
      ...mode.options,
    }, pipeline, Arborist)
    await strictAllowScriptsPreflight(arb, flat)
    if (arb.idealTree && !flat.dryRun && !flat.packageLockOnly) {
      await fetchTarballs(plannedTarballs(arb.idealTree, actual, { omit: new Set(flat.omit as string[]), registryFor: pipeline.upstream.registryFor }), {
        pipeline,
        flat,
        fillResolved,
      })
    }
    await arb.reify(options)
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
    await pipeline.stop()
  }
}

/** npm ci's emptying of node_modules, root and workspaces, once the lockfile is known good. */
export async function emptyNodeModules (root: string): Promise<void> {
  const paths = await getWorkspaces([], { path: root, includeWorkspaceRoot: true, relativeFrom: root })
  await Promise.all([...paths.values()].map(async (dir) => {
    const full = join(dir, 'node_modules')
    const entries = await readdir(full).catch(() => [] as string[])
    await Promise.all(entries.map((entry) => rm(join(full, entry), { force: true, recursive: true })))
  }))
}
