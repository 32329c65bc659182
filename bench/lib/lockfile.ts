/**
 * The tarballs a package-lock.json (v2/v3) asks for: what the mirror must hold and what the
 * peer-transfer measurement fetches.
 */
import { readFile, writeFile } from 'node:fs/promises'
import type { TarballRef } from '../../src/types.ts'

interface LockEntry {
  name?: string
  version?: string
  integrity?: string
  link?: boolean
  inBundle?: boolean
  optional?: boolean
}

/** One tarball of the lockfile; `optional` ones (platform binaries) may be missing upstream. */
export interface LockTarball extends TarballRef {
  optional: boolean
}

function nameOf (path: string, entry: LockEntry): string {
  return entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
}

/** Every distinct tarball (by name@version) the lockfile at `file` installs from a registry. */
export async function readLockTarballs (file: string): Promise<LockTarball[]> {
  const lock = JSON.parse(await readFile(file, 'utf8')) as { packages?: Record<string, LockEntry> }
  const out = new Map<string, LockTarball>()
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.link === true || entry.inBundle === true) continue
    if (entry.version === undefined || entry.integrity === undefined) continue
    const name = nameOf(path, entry)
    out.set(`${name}@${entry.version}`, { name, version: entry.version, integrity: entry.integrity, optional: entry.optional === true })
  }
  return [...out.values()]
}

/**
 * Copies a lockfile, giving every registry package the `resolved` URL npm would have written
 * for `registry` (most real lockfiles have them; the committed ones must not). With them npm
 * fetches no packuments for `npm ci`, only tarballs.
 */
export async function writeLockWithResolved (from: string, to: string, registry: string, paths: ReadonlyMap<string, string>): Promise<void> {
  const lock = JSON.parse(await readFile(from, 'utf8')) as { packages?: Record<string, LockEntry> }
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    const tarball = entry.version === undefined ? undefined : paths.get(`${nameOf(path, entry)}@${entry.version}`)
    if (path === '' || entry.link === true || entry.inBundle === true || tarball === undefined) continue
    const { version, ...rest } = entry
    lock.packages![path] = { version, resolved: `${registry}${tarball}`, ...rest } as LockEntry
  }
  await writeFile(to, `${JSON.stringify(lock, null, 2)}\n`)
}
