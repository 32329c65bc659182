/**
 * What the shim reads in packuments: the tarball a path names when no integrity came with the
 * request, and the `dist.cid` announcements (the 2019 registry-mirror format) of large tarballs.
 */
import { bytesOf } from '../stream-chunks.ts'
import type { TarballRef } from '../types.ts'
import type { UpstreamResponse } from './upstream.ts'

/**
 * A packument's path as npm writes it (npm-package-arg's `escapedName`, `@scope%2fname`), whatever
 * case of `%2F` a client sent: one path, so one entry in npm's HTTP cache for every client.
 */
export function escapedName (name: string): string {
  return name.replace('/', '%2f')
}

/** The Accept header of an abbreviated-packument request, as npm clients send it. */
const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'

interface Packument {
  versions?: Record<string, { version: string, dist?: { tarball?: string, integrity?: string, shasum?: string, cid?: unknown } }>
}

/** The whole body of an upstream answer (make-fetch-happen's stream, or bytes). */
export async function bodyBytes (answer: UpstreamResponse): Promise<Buffer> {
  return Buffer.isBuffer(answer.body) ? answer.body : bytesOf(answer.body)
}

function sha1Integrity (shasum: unknown): string | undefined {
  return typeof shasum === 'string' && /^[0-9a-f]{40}$/i.test(shasum) ? `sha1-${Buffer.from(shasum, 'hex').toString('base64')}` : undefined
}

/**
 * The tarball `file` of `name`, described by its packument (`packument(accept)`: wherever the shim
 * gets packuments — the registry, or peers and indexes), or undefined when none names it. It is
 * fetched from `resolved` (the configured registry's URL for the path asked), never from wherever
 * the packument's `dist.tarball` points.
 */
export async function tarballFromPackument (packument: (accept: string) => Promise<UpstreamResponse>, name: string, file: string, resolved: string): Promise<TarballRef | undefined> {
  // the abbreviated packument first, asked for exactly as npm, pnpm, yarn 1 and bun ask: it names
  // every tarball and its integrity, and npm's HTTP cache matches on Accept, so with the registry
  // down the copy a client's own request left there is found
  let answer = await packument(ABBREVIATED)
  if (answer.status !== 200) answer = await packument('application/json')
  if (answer.status !== 200) return undefined
  const found = JSON.parse((await bodyBytes(answer)).toString('utf8')) as Packument
  for (const manifest of Object.values(found.versions ?? {})) {
    const tarball = manifest?.dist?.tarball
    if (typeof tarball !== 'string' || !tarball.endsWith(`/${file}`)) continue
    const integrity = manifest.dist?.integrity ?? sha1Integrity(manifest.dist?.shasum)
    return typeof integrity !== 'string' || typeof manifest.version !== 'string' ? undefined : { name, version: manifest.version, integrity, resolved }
  }
  return undefined
}

/** Hands each `dist.cid` announcement of a packument's text to `onHint`. */
export function cidHints (text: string, onHint: (integrity: string, cid: string) => void): void {
  if (!text.includes('"cid"')) return
  try {
    const packument = JSON.parse(text) as Packument
    for (const { dist } of Object.values(packument.versions ?? {})) {
      if (typeof dist?.integrity === 'string' && typeof dist.cid === 'string') onHint(dist.integrity, dist.cid)
    }
  } catch {
    // not JSON: the client will find out; no hints from it
  }
}
