/**
 * npm's workspaces: which ones `-w`/`--workspaces` select, and where every workspace is.
 */
import { createRequire } from 'node:module'
import { relative, resolve } from 'node:path'
import type { NpmConfig } from '../config.ts'

const require = createRequire(import.meta.url)

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
