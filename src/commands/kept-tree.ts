/**
 * The tree `ci` finds after emptying when npm keeps the root's node_modules (a workspace shares
 * the root's name, so npm's workspace map drops the root: see ./ci.ts). Arborist loads an actual
 * tree from its hidden lockfile (`node_modules/.package-lock.json`) only while nothing in
 * node_modules is newer or missing; the emptied workspace folders are both, so npm reads every
 * package.json instead (about twice the time on a 1,270-package monorepo). Here the hidden
 * lockfile, accepted by Arborist before the emptying, is handed to Arborist without what the
 * emptying removed, and Arborist loads the tree from it. The file itself is left as it was (as
 * npm leaves it until reify writes it): nothing reads it before that.
 *
 * What reify does with that tree (an unfiltered, hoisted install) depends on each location's
 * presence, version, integrity (resolved where there is none) and each link's target. Arborist's
 * own check vouches for presence only; the rest is checked against what npm's reading would
 * find: the version in each package.json, integrity and resolved in package-lock.json (where a
 * folder's tree takes them from), the links on disk. Anything else: npm's way.
 *
 * When Arborist then loads the actual tree, it is handed the lockfile it accepted, less the
 * emptied folders: its check of node_modules (a stat of every folder, 0.1-0.2 s of the main thread on the
 * monorepo) would find what it found before the emptying, less the emptied folders.
 */
import { readFileSync, readlinkSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { ShrinkwrapClass } from './arborist-types.ts'
import type { LockedEntry, LockedPackages } from './locked-packages.ts'

export interface KeptTreeInit {
  root: string
  /** The node_modules folders ci is about to empty. */
  emptied: readonly string[]
  /** package-lock.json's `packages`. */
  locked: LockedPackages
  Shrinkwrap: ShrinkwrapClass
  /** Arborist's options, as its own loading passes them. */
  resolveOptions?: Record<string, unknown>
}

/** Whether npm's reading of the folder at `location` would find what `entry` says. */
function agrees (root: string, location: string, entry: LockedEntry, locked: LockedEntry | undefined): boolean {
  if (entry.link === true) {
    try {
      const path = join(root, location)
      return typeof entry.resolved === 'string' && resolve(dirname(path), readlinkSync(path)) === join(root, entry.resolved)
    } catch {
      return false
    }
  }
  if (locked === undefined || locked.version !== entry.version || locked.integrity !== entry.integrity) return false
  if (entry.integrity === undefined && locked.resolved !== entry.resolved) return false
  try {
    // one synchronous read each: a third of the main thread's time of reading them all at once
    return (JSON.parse(readFileSync(join(root, location, 'package.json'), 'utf8')) as { version?: unknown }).version === entry.version
  } catch {
    return false
  }
}

/** The tree ci keeps, as Arborist will load it. */
export interface KeptTree {
  /** The lockfile locations it has in place. */
  locations: ReadonlySet<string>
  /** Runs `load` (Arborist's loadActual, after the emptying) with that hidden lockfile, less the emptied folders, given to it as loaded. */
  loading<T>(load: () => Promise<T>): Promise<T>
}

/**
 * The tree ci keeps, when Arborist would load it from the hidden lockfile; else undefined.
 *
 * @example
 * const kept = await keptTree({ root, emptied: dirs, locked, Shrinkwrap: Arborist.Shrinkwrap })
 * await moveAside({ dirs, trash })
 * const actual = await kept?.loading(() => arb.loadActual({ ignoreMissing: true }))
 */
export async function keptTree (init: KeptTreeInit): Promise<KeptTree | undefined> {
  const { root, locked } = init
  const meta = await init.Shrinkwrap.load({ path: root, hiddenLockfile: true, resolveOptions: init.resolveOptions })
  if (!meta.loadedFromDisk || meta.filename === null) return undefined
  const gone = init.emptied.map((dir) => relative(root, dir).split(sep).join('/'))
  const inside = (location: string | undefined): boolean => location !== undefined && gone.some((dir) => location === dir || location.startsWith(`${dir}/`))
  const packages: Record<string, LockedEntry> = {}
  for (const [location, entry] of Object.entries(meta.data.packages as LockedPackages)) {
    if (inside(location)) continue
    // a link into an emptied folder dangles: what that means is for Arborist's own reading
    if (entry.link === true && inside(entry.resolved)) return undefined
    if (!agrees(root, location, entry, Object.hasOwn(locked, location) ? locked[location] : undefined)) return undefined
    packages[location] = entry
  }
  const { data } = meta
  const { Shrinkwrap } = init
  return {
    locations: new Set(Object.keys(packages)),
    async loading (load) {
      const original = Shrinkwrap.load
      // what Arborist's load of the file, written without the emptied folders, would give: the same keys, in the same order
      meta.data = { ...data, packages }
      Shrinkwrap.load = async (options) => {
        if (options.hiddenLockfile !== true || resolve(options.path) !== resolve(root)) return await original.call(Shrinkwrap, options)
        Shrinkwrap.load = original
        meta.resolveOptions = options.resolveOptions ?? {}
        return meta
      }
      try {
        return await load()
      } finally {
        Shrinkwrap.load = original
      }
    },
  }
}
