/**
 * Classifies a registry request path the way npm clients build them:
 * packuments (`/name`, `/@scope%2fname`), tarballs (`/name/-/name-1.0.0.tgz`),
 * other package paths (`/name/latest`, dist-tags…) and registry-wide paths (`/-/v1/search`…).
 */
export type Route =
  | { kind: 'packument', name: string }
  | { kind: 'tarball', name: string, file: string }
  | { kind: 'package', name: string }
  | { kind: 'registry' }
  | { kind: 'invalid', reason: string }

// npm's rules for names (validate-npm-package-name), loosened for old mixed-case names
const NAME_PART = /^(?![._])[A-Za-z0-9._~-]{1,214}$/

function validName (name: string): boolean {
  const parts = name.startsWith('@') ? name.slice(1).split('/') : [name]
  if (parts.length > 2 || (name.startsWith('@') && parts.length !== 2)) return false
  return parts.every((part) => NAME_PART.test(part) && part !== '..' && part !== '.')
}

/** Parses the pathname (without query) of a request to the registry root. */
export function parseRoute (pathname: string): Route {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return { kind: 'invalid', reason: 'malformed URL encoding' }
  }
  if (decoded.includes('\\') || decoded.includes('\0') || /(^|\/)\.\.?(\/|$)/.test(decoded)) {
    return { kind: 'invalid', reason: 'path traversal' }
  }
  if (decoded === '/' || decoded.startsWith('/-/')) return { kind: 'registry' }
  const segments = decoded.slice(1).split('/')
  const nameLength = segments[0].startsWith('@') ? 2 : 1
  const name = segments.slice(0, nameLength).join('/')
  if (!validName(name)) return { kind: 'invalid', reason: `invalid package name "${name}"` }
  const rest = segments.slice(nameLength)
  if (rest.length === 0) return { kind: 'packument', name }
  if (rest.length === 2 && rest[0] === '-' && rest[1].endsWith('.tgz') && NAME_PART.test(rest[1])) {
    return { kind: 'tarball', name, file: rest[1] }
  }
  return { kind: 'package', name }
}

/** Where the shim fetches a tarball path from: the registry that serves its package, same path. */
export function upstreamTarballUrl (registryFor: (name: string) => string, route: Extract<Route, { kind: 'tarball' }>): string {
  return `${registryFor(route.name)}${route.name}/-/${route.file}`
}
