/**
 * Which npm client is asking, and where its packuments' tarball URLs must point so that the client
 * fetches tarballs from us and still writes the lockfile it writes against the registry itself.
 *
 * Each client has one form it reads as "the configured registry's own tarball", found in its
 * sources:
 * - pnpm (lockfile v9) leaves `resolution.tarball` out when `dist.tarball` is the registry's
 *   conventional URL `<registry><name>/-/<base>-<version>.tgz` (lockfile.utils' toLockfileResolution);
 * - yarn 2+ leaves `::__archiveUrl=` out of the locator on the same condition
 *   (NpmSemverFetcher.isConventionalTarballUrl);
 * - bun writes `""` as a bun.lock entry's second field only for the public registry's host, and
 *   builds the URL from its configured registry when a version has no `dist.tarball` (NetworkTask.forTarball),
 *   which it then also writes as `""`;
 * - yarn 1 writes `dist.tarball` as `resolved` verbatim, and resolves a relative one against its
 *   configured registry (NpmRegistry.getRequestUrl): a path is the only host-free form it has;
 * - npm writes `dist.tarball` as `resolved` verbatim, and rewrites the public registry's host to
 *   the configured one when fetching (`replace-registry-host`): the upstream URL is already its form.
 */
import { registryTarballUrl } from '../tarball-url.ts'

/** The clients told apart by their `User-Agent`; `other` gets packuments as the registry sent them. */
export type ClientKind = 'npm' | 'pnpm' | 'yarn1' | 'yarn' | 'bun' | 'other'

export const CLIENT_KINDS: readonly ClientKind[] = ['npm', 'pnpm', 'yarn', 'yarn1', 'bun', 'other']

/** How a client kind is named to people (status page, `ipfs-npm status`). */
export const CLIENT_LABELS: Record<string, string> = { npm: 'npm', pnpm: 'pnpm', yarn: 'yarn 2+', yarn1: 'yarn 1', bun: 'bun', other: 'other' }

/**
 * The client a `User-Agent` names: `npm/11.6.0 node/v24…`, `pnpm/10.34.9 npm/? node/…`,
 * `yarn/1.22.22 npm/? node/…`, `Bun/1.4.5`; yarn 2+ sends its HTTP library's default,
 * `got (https://github.com/sindresorhus/got)`, and nothing else of its own.
 */
export function clientKind (userAgent: string | undefined): ClientKind {
  if (userAgent?.startsWith('got (') === true) return 'yarn'
  const match = /^(npm|pnpm|yarn|bun)\/(\d+)/i.exec(userAgent ?? '')
  if (match === null) return 'other'
  const name = match[1].toLowerCase()
  if (name === 'yarn') return match[2] === '1' ? 'yarn1' : 'yarn'
  return name as ClientKind
}

/**
 * What `dist.tarball` must be for `kind`, given the upstream's: `undefined` to leave the field
 * out. Only a tarball at the upstream's conventional URL is pointed at us; any other URL is one
 * every client writes into its lockfile as it is, so it stays the upstream's.
 */
export function tarballFor (kind: ClientKind, init: { upstreamTarball: string, upstreamRegistry: string, self: string, name: string, version: string }): string | undefined {
  // the registry-relative path every client builds, `<name>/-/<unscoped name>-<version>.tgz`
  const path = registryTarballUrl('', init.name, init.version).slice(1)
  const sameUrl = (a: string, b: string): boolean => a.replace(/^https?:/, '') === b.replace(/^https?:/, '').replace(/%2f/gi, '/')
  if (!sameUrl(registryTarballUrl(init.upstreamRegistry, init.name, init.version), init.upstreamTarball)) return init.upstreamTarball
  switch (kind) {
    case 'pnpm':
    case 'yarn':
      return `${init.self}${path}`
    case 'bun':
      return undefined
    case 'yarn1':
      return path
    case 'npm':
    case 'other':
      return init.upstreamTarball
  }
}

interface PackumentVersion { version?: unknown, dist?: { tarball?: unknown } }

/**
 * Points a packument's tarballs at us for `kind` (in place). Returns whether anything changed,
 * so an unchanged packument can be passed on byte for byte.
 */
export function rewriteTarballs (packument: { name?: unknown, versions?: Record<string, PackumentVersion> }, kind: ClientKind, init: { upstreamRegistry: string, self: string }): boolean {
  if (kind === 'npm' || kind === 'other' || typeof packument.name !== 'string') return false
  let changed = false
  for (const manifest of Object.values(packument.versions ?? {})) {
    const dist = manifest?.dist
    if (typeof dist?.tarball !== 'string' || typeof manifest.version !== 'string') continue
    const tarball = tarballFor(kind, { ...init, upstreamTarball: dist.tarball, name: packument.name, version: manifest.version })
    if (tarball === dist.tarball) continue
    if (tarball === undefined) delete dist.tarball
    else dist.tarball = tarball
    changed = true
  }
  return changed
}
