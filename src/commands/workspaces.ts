/**
 * npm's workspaces: which ones `-w`/`--workspaces` select, and where every workspace is.
 */
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import type { NpmConfig } from '../config.ts'

const require = createRequire(import.meta.url)

type MapWorkspaces = ((opts: { cwd?: string, pkg?: { workspaces?: unknown } }) => Promise<Map<string, string>>) & { virtual: unknown }

const shared = new WeakSet<MapWorkspaces>()

/**
 * Makes the @npmcli/map-workspaces that the Arborist whose main file is `arboristMain` requires
 * (and `getWorkspaces` below, when it is the same module) keep its answers, by folder and
 * workspaces declaration, for the life of the process: a ci globbed and read every workspace's
 * package.json three times (here, then Arborist's ideal and actual trees; 30 ms on a 30-workspace
 * monorepo). One process runs one command, and neither install nor ci changes which workspaces
 * exist or what they are named. Calls with other options, and failures, are not kept.
 *
 * Applied only before Arborist is loaded; returns whether it was.
 */
export function shareWorkspaceMaps (arboristMain: string): boolean {
  const arborist = join(dirname(arboristMain), 'arborist', 'index.js')
  const cache = require.cache
  let file: string
  let real: MapWorkspaces
  try {
    if (cache[arborist] !== undefined) return false
    file = createRequire(arborist).resolve('@npmcli/map-workspaces')
    real = require(file) as MapWorkspaces
  } catch {
    return false
  }
  const entry = cache[file]
  if (entry === undefined || typeof real !== 'function' || shared.has(real)) return false
  const answers = new Map<string, Promise<Map<string, string>>>()
  const mapWorkspaces = async (opts: Parameters<MapWorkspaces>[0]): Promise<Map<string, string>> => {
    const { cwd, pkg, ...other } = opts ?? {}
    if (typeof cwd !== 'string' || typeof pkg !== 'object' || pkg === null || Object.keys(other).length > 0) return real(opts)
    const key = JSON.stringify([resolve(cwd), pkg.workspaces ?? null])
    let answer = answers.get(key)
    if (answer === undefined) {
      answer = real(opts)
      answers.set(key, answer)
      answer.catch(() => answers.delete(key))
    }
    // each caller its own Map, as each call made one
    return new Map(await answer)
  }
  const memo: MapWorkspaces = Object.assign(mapWorkspaces, { virtual: real.virtual })
  shared.add(memo)
  entry.exports = memo
  return true
}

/** The workspaces `-w`/`--workspaces` select, as npm's `setWorkspaces()` finds them; undefined when none. */
export async function selectedWorkspaces (config: NpmConfig): Promise<Map<string, string> | undefined> {
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
