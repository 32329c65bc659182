/**
 * What may be shared with peers outside a private network: the classifier every path that lets a
 * block, or a fact about one, leave the machine asks (bitswap, the integrity → CID protocol, DHT
 * provider records, packuments from peers).
 *
 * Content is private — served, answered, provided and asked for only inside a swarm — when it
 * comes from a registry the user's npm config holds credentials for (`//host/…:_authToken`,
 * `:_auth`, `:username` + `:_password`, `:certfile` + `:keyfile`, or the legacy top-level ones,
 * which npm sends to the default registry), or from a registry or scope the user marked private
 * (our `private` option: an intranet registry needs no token), or from nowhere we know of (no
 * URL, not http(s)). A credential for a host makes every URL on that host private, whatever the
 * path: npm itself sends a registry's token to other paths of its host, so the path proves
 * nothing. Being logged in to a registry to publish therefore keeps its tarballs in the swarm too:
 * the URL of a package the token was sent for does not say whether it needed it.
 *
 * Pure and synchronous over npm's flattened config: cheap enough for every ask.
 */

/** Where some content came from, as far as it is known. */
export interface ContentSource {
  /** The URL npm fetched it from (a tarball's or packument's). */
  url?: string
  /** The package it belongs to; used alone, the registry npm would fetch it from stands in for the URL. */
  name?: string
}

export interface SharingPolicy {
  /** Whether content from `source` must stay inside a private network; unknown origins are private. */
  isPrivate(source: ContentSource): boolean
  /** The registry npm fetches `name` from (its scope's, else the default), as configured. */
  registryFor(name: string): string
}

export interface SharingPolicyInit {
  /** npm's flattened config (registry, `@scope:registry`, nerf-darted credentials). */
  flat: Record<string, unknown>
  /** Registries (URL prefixes or `host[:port]`) and scopes (`@corp`) the user marked private. */
  private?: readonly string[]
}

/** Nerf-darted npm config keys that carry a credential for the host (and path) before them. */
const CREDENTIAL_KEY = /^\/\/([^/]+)\/.*:(?:_authToken|_auth|_password|username|certfile|keyfile)$/i
/** Top-level credentials: npm sends them to the default registry only. */
const LEGACY_CREDENTIALS = ['_auth', '_authToken', '_password', 'cert', 'key']
/** A scope in a registry path: `/@corp/pkg…` or `/@corp%2fpkg`. */
const SCOPE_IN_PATH = /\/(@[^/]+)\//

const scopeOf = (name: string | undefined): string | undefined => name?.startsWith('@') === true ? name.split('/')[0].toLowerCase() : undefined

function parseHttp (url: string): URL | undefined {
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed : undefined
  } catch {
    return undefined
  }
}

const withSlash = (text: string): string => text.endsWith('/') ? text : `${text}/`

/**
 * @example
 * const sharing = createSharingPolicy({ flat: config.flat, private: options.private })
 * sharing.isPrivate({ url: 'https://npm.corp.example/@corp/x/-/x-1.0.0.tgz' }) // true with a token for that host
 */
export function createSharingPolicy (init: SharingPolicyInit): SharingPolicy {
  const { flat } = init
  const defaultRegistry = typeof flat.registry === 'string' ? flat.registry : 'https://registry.npmjs.org/'
  const credentialHosts = new Set<string>()
  for (const [key, value] of Object.entries(flat)) {
    const host = CREDENTIAL_KEY.exec(key)?.[1]
    if (host !== undefined && value !== undefined && value !== null && value !== '') credentialHosts.add(host.toLowerCase())
  }
  if (LEGACY_CREDENTIALS.some((key) => typeof flat[key] === 'string' && flat[key] !== '')) {
    const host = parseHttp(defaultRegistry)?.host
    if (host !== undefined) credentialHosts.add(host.toLowerCase())
  }

  const privateScopes = new Set<string>()
  const privateHosts = new Set<string>()
  const privatePrefixes: string[] = []
  for (const entry of init.private ?? []) {
    if (entry.startsWith('@')) privateScopes.add(entry.replace(/\/.*$/, '').toLowerCase())
    else if (parseHttp(entry) !== undefined) privatePrefixes.push(withSlash(parseHttp(entry)!.href.toLowerCase()))
    else privateHosts.add(entry.replace(/\/+$/, '').toLowerCase())
  }

  const registryFor = (name: string): string => {
    const scope = scopeOf(name)
    const scoped = scope === undefined ? undefined : flat[`${scope}:registry`]
    return typeof scoped === 'string' ? scoped : defaultRegistry
  }

  return {
    registryFor,
    isPrivate ({ url, name }) {
      if (privateScopes.has(scopeOf(name) ?? '')) return true
      const source = url ?? (name === undefined ? undefined : registryFor(name))
      const parsed = source === undefined ? undefined : parseHttp(source)
      if (parsed === undefined) return true
      const host = parsed.host.toLowerCase()
      if (credentialHosts.has(host) || privateHosts.has(host) || privateHosts.has(parsed.hostname.toLowerCase())) return true
      const href = parsed.href.toLowerCase()
      if (privatePrefixes.some((prefix) => withSlash(href).startsWith(prefix))) return true
      const scope = SCOPE_IN_PATH.exec(parsed.pathname.replace(/%2f/gi, '/').replace(/%40/g, '@').toLowerCase())?.[1]
      return scope !== undefined && privateScopes.has(scope)
    },
  }
}
