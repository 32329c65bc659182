/**
 * Which tarball requests of reify reach the shim. Arborist's reify rewrites a lockfile's
 * `resolved` by npm's `replace-registry-host` rule before pacote fetches it; a URL the rule leaves
 * alone is fetched directly, past the shim, its peers and its shared resolver. Reify can only run
 * alongside the fetch phase when every tarball it may still need comes through the shim.
 */
import { parseRoute, upstreamTarballUrl } from './routes.ts'

/**
 * Arborist's `#registryResolved` (reify.js): a URL whose host (and path prefix, when the rule is a
 * URL) matches `rule` is moved onto `registry`; `always` matches every host, `never` none.
 */
export function replaceRegistryHost (resolved: string, rule: string, registry: string): string {
  let url: URL
  let target: URL
  try {
    url = new URL(resolved)
    target = new URL(registry)
  } catch {
    return resolved
  }
  let match: URL | undefined
  try {
    match = new URL(rule)
  } catch {
    // a bare host name, `always` or `never`
  }
  const matchPath = match?.pathname.replace(/\/$/, '')
  const underPrefix = (pathname: string, prefix: string): boolean => pathname === prefix || pathname.startsWith(`${prefix}/`)
  const hostMatches = rule === 'always' || (match?.hostname ?? rule) === url.hostname
  if (!hostMatches || (matchPath && !underPrefix(url.pathname, matchPath))) return resolved
  const registryPath = target.pathname.replace(/\/$/, '')
  url.protocol = target.protocol
  url.hostname = target.hostname
  url.port = target.port
  if (matchPath) url.pathname = registryPath + url.pathname.slice(matchPath.length)
  else if (registryPath && !underPrefix(url.pathname, registryPath)) url.pathname = registryPath + url.pathname
  return url.toString()
}

export interface ShimRoutingInit {
  /** npm's rule (`replace-registry-host`, as Arborist normalises it: `npmjs` is `registry.npmjs.org`). */
  rule: string
  /** npm's configured registry, where npm's rule moves a matching URL. */
  registry: string
  /** The shim's URL, with a trailing slash. */
  shimUrl: string
  /** The registry that serves a package (`@scope:registry` or the configured one), with a trailing slash. */
  registryFor: (name: string) => string
}

/**
 * A rule under which reify asks the shim for every one of `tarballs`, and the shim fetches each
 * from the very URL npm would have fetched it from — npm's own rule when it does, else one that
 * names the registry the lockfile's URLs point at. Undefined when no single rule does (URLs on
 * several hosts, tarballs outside any registry, no `resolved` at all).
 *
 * @example
 * // a lockfile whose URLs name the configured registry, not registry.npmjs.org
 * shimRoutingRule([{ name: 'a', resolved: 'https://mirror.example/a/-/a-1.0.0.tgz' }], init)
 * // → 'https://mirror.example/'
 */
export function shimRoutingRule (tarballs: ReadonlyArray<{ name: string, resolved: string | null }>, init: ShimRoutingInit): string | undefined {
  const viaShim = (url: string): string | undefined => {
    if (!url.startsWith(init.shimUrl)) return undefined
    const route = parseRoute(new URL(url).pathname)
    return route.kind === 'tarball' ? upstreamTarballUrl(init.registryFor, route) : undefined
  }
  // what npm fetches; a URL already on the shim was put there for a lockfile without any
  const npmFetches = tarballs.map(({ resolved }) => resolved === null ? undefined : viaShim(resolved) ?? replaceRegistryHost(resolved, init.rule, init.registry))
  const candidates = new Set([init.rule, ...tarballs.map(({ name }) => init.registryFor(name))])
  for (const rule of candidates) {
    const routed = tarballs.every(({ resolved }, i) => resolved !== null && npmFetches[i] !== undefined &&
      viaShim(replaceRegistryHost(resolved, rule, init.shimUrl)) === npmFetches[i])
    if (routed) return rule
  }
  return undefined
}
