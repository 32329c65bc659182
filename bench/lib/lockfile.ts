/**
 * The tarballs a package-lock.json (v2/v3) asks for: what the mirror must hold and what the
 * peer-transfer measurement fetches.
 */
import { readFile } from 'node:fs/promises'
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

/** Every distinct tarball (by name@version) the lockfile at `file` installs from a registry. */
export async function readLockTarballs (file: string): Promise<LockTarball[]> {
  const lock = JSON.parse(await readFile(file, 'utf8')) as { packages?: Record<string, LockEntry> }
  const out = new Map<string, LockTarball>()
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.link === true || entry.inBundle === true) continue
    if (entry.version === undefined || entry.integrity === undefined) continue
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    out.set(`${name}@${entry.version}`, { name, version: entry.version, integrity: entry.integrity, optional: entry.optional === true })
  }
  return [...out.values()]
}
