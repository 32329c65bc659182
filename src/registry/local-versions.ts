/**
 * Package versions this process knows and the registry may not: a tarball installed by CID is
 * described by its own package.json and integrity. The shim adds them to the packument it
 * answers (or answers them alone when the registry has no such package or cannot be reached),
 * so Arborist plans, and the lockfile records, a plain `name@version` with that integrity.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** A version's manifest as a registry serves it; `dist.tarball` is the registry's URL for it. */
export interface LocalManifest {
  name: string
  version: string
  dist: { integrity: string, shasum?: string, tarball: string, cid?: string }
  [field: string]: unknown
}
interface Packument {
  name?: string
  'dist-tags'?: Record<string, string>
  versions?: Record<string, unknown>
  [field: string]: unknown
}

export interface LocalVersions {
  add(manifest: LocalManifest): void
  /** Whether any version of `name` is known here (cheap: the shim checks it per packument). */
  has(name: string): boolean
  /** The version of `name` whose tarball has this file name (`util-1.0.0.tgz`). */
  byFile(name: string, file: string): LocalManifest | undefined
  /**
   * `packument` (the registry's, or undefined when it has none) with the local versions added;
   * a version the registry has stays the registry's.
   */
  merge(name: string, packument: Packument | undefined): Packument
}

const semver = require('semver') as { rcompare(a: string, b: string): number }

export function createLocalVersions (): LocalVersions {
  const known = new Map<string, Map<string, LocalManifest>>()
  return {
    add (manifest) {
      const versions = known.get(manifest.name) ?? new Map<string, LocalManifest>()
      versions.set(manifest.version, manifest)
      known.set(manifest.name, versions)
    },
    has: (name) => known.has(name),
    byFile (name, file) {
      for (const manifest of known.get(name)?.values() ?? []) {
        if (manifest.dist.tarball.endsWith(`/${file}`)) return manifest
      }
      return undefined
    },
    merge (name, packument) {
      const local = known.get(name)
      const merged: Packument = { ...(packument ?? { name }) }
      merged.versions = { ...packument?.versions }
      for (const [version, manifest] of local ?? []) merged.versions[version] ??= manifest
      const tags = { ...packument?.['dist-tags'] }
      // a package only this process knows gets npm's default tag, its highest version
      tags.latest ??= [...(local?.keys() ?? [])].sort(semver.rcompare)[0] ?? ''
      merged['dist-tags'] = tags
      return merged
    },
  }
}
