/**
 * The lockfile's `packages` as plain entries, for what `ci` must know of the lockfile besides
 * the tree Arborist builds from it: whether that tree is still the lockfile's, and which tarballs
 * it will want. npm builds the lockfile's tree twice for that (once to compare, once as the
 * ideal tree); on a 1,000-package project one build is about a second of the main thread.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TarballRef } from '../types.ts'
import type { TreeNode } from './arborist-types.ts'

/** A lockfile v2+ `packages` entry, as far as it is read here. */
export interface LockedEntry {
  name?: string
  version?: string
  resolved?: string
  integrity?: string
  link?: boolean
  inBundle?: boolean
  dev?: boolean
  optional?: boolean
  devOptional?: boolean
  peer?: boolean
}

export type LockedPackages = Record<string, LockedEntry>

async function readIfThere (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
}

/**
 * The `packages` of the lockfile Arborist loads for `root` (npm-shrinkwrap.json first, as its
 * Shrinkwrap does), when that file is plain JSON of lockfile version 2 or later. Undefined for
 * anything else (no lockfile, a v1 one, merge conflicts Arborist resolves, unreadable): then
 * only Arborist's own loading can say what npm says.
 */
export async function readLockedPackages (root: string): Promise<LockedPackages | undefined> {
  try {
    const [shrinkwrap, lock] = await Promise.all([readIfThere(join(root, 'npm-shrinkwrap.json')), readIfThere(join(root, 'package-lock.json'))])
    const text = shrinkwrap || lock
    if (text === '') return undefined
    const data = JSON.parse(text) as { lockfileVersion?: unknown, packages?: unknown }
    const ok = typeof data.lockfileVersion === 'number' && data.lockfileVersion >= 2 && typeof data.packages === 'object' && data.packages !== null && !Array.isArray(data.packages)
    return ok ? data.packages as LockedPackages : undefined
  } catch {
    return undefined
  }
}

/** The version the lockfile's tree has at `location` (Arborist's `''` for none): a link's is its target's. */
function lockedVersion (packages: LockedPackages, location: string): string | undefined {
  const entry = Object.hasOwn(packages, location) ? packages[location] : undefined
  const target = entry?.link === true ? (typeof entry.resolved === 'string' && Object.hasOwn(packages, entry.resolved) ? packages[entry.resolved] : undefined) : entry
  return target === undefined ? undefined : target.version || ''
}

/**
 * Whether every package of `ideal` is at a location of the lockfile with the same version. True
 * means npm's `validate-lockfile.js` finds nothing; false means it may (a workspace's version is
 * read from its package.json, a key may be spelled otherwise…): ask Arborist's lockfile tree.
 */
export function matchesLockedVersions (packages: LockedPackages, ideal: TreeNode): boolean {
  for (const [location, node] of ideal.inventory) {
    if (lockedVersion(packages, location) !== node.version) return false
  }
  return true
}

/**
 * The registry tarballs of the lockfile that no `omit` leaves out, optional ones left aside
 * (which of those this machine installs is the ideal tree's to say): enough to know early
 * whether the cache lacks any, so peers can be started while Arborist works. Locations `inPlace`
 * (in a node_modules ci keeps) are left out too.
 */
export function lockedTarballs (packages: LockedPackages, omit: ReadonlySet<string>, inPlace: ReadonlySet<string> = new Set()): TarballRef[] {
  const refs: TarballRef[] = []
  for (const [location, entry] of Object.entries(packages)) {
    if (!location.includes('node_modules/') || inPlace.has(location) || entry.link === true || entry.inBundle === true || entry.optional === true || entry.devOptional === true) continue
    if ((entry.dev === true && omit.has('dev')) || (entry.peer === true && omit.has('peer'))) continue
    if (typeof entry.integrity !== 'string' || typeof entry.version !== 'string') continue
    if (entry.resolved !== undefined && !/^https?:/.test(entry.resolved)) continue
    const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length)
    refs.push({ name, version: entry.version, integrity: entry.integrity, resolved: entry.resolved })
  }
  return refs
}
