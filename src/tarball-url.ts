/**
 * Where a registry keeps a package's tarball: `<registry><name>/-/<unscoped name>-<version>.tgz`,
 * the path npm, the shim, the plan and npm's HTTP cache keys all use.
 */

/** A package name without its scope: `@scope/pkg` → `pkg`. */
export function unscopedName (name: string): string {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name
}

/** The tarball's file name, `<unscoped name>-<version>.tgz`. */
export function tarballFileName (name: string, version: string): string {
  return `${unscopedName(name)}-${version}.tgz`
}

/** The version a tarball file name carries, when it follows npm's `<unscoped name>-<version>.tgz`. */
export function versionFromFileName (name: string, file: string): string | undefined {
  const prefix = `${unscopedName(name)}-`
  if (!file.startsWith(prefix) || !file.endsWith('.tgz')) return undefined
  return file.slice(prefix.length, -'.tgz'.length) || undefined
}

/** The tarball URL npm would use for a registry package whose lockfile entry has no `resolved`. */
export function registryTarballUrl (registry: string, name: string, version: string): string {
  return `${registry.endsWith('/') ? registry : `${registry}/`}${name}/-/${tarballFileName(name, version)}`
}
