/**
 * The upstream registries, reached exactly as npm reaches them: npm-registry-fetch with the
 * user's flattened npm options, so scoped registries, auth (sent only to the host its nerf dart
 * names), proxies, TLS settings, retries and npm's HTTP cache all behave as in npm. One process
 * shares make-fetch-happen's keep-alive agents, so a host is resolved once, not per request.
 */
import { createRequire } from 'node:module'
import type { Readable } from 'node:stream'
import type { FlatOptions } from '../config.ts'
import type { HttpError } from '../errors.ts'
import { registryTarballUrl } from '../tarball-url.ts'
import type { TarballRef, Upstream } from '../types.ts'

const require = createRequire(import.meta.url)

/** The parts of a fetch Response (minipass-fetch) we use. */
interface FetchResponse {
  status: number
  headers: { raw(): Record<string, string[]> }
  body: Readable
  buffer(): Promise<Buffer>
}

/** An upstream answer to hand to a client: any status, headers, and the body as a stream or bytes. */
export interface UpstreamResponse {
  status: number
  headers: Record<string, string[]>
  body: Readable | Buffer
}

type RegistryFetch = ((uri: string, opts: Record<string, unknown>) => Promise<FetchResponse>) & {
  pickRegistry(spec: string, opts: Record<string, unknown>): string
}

export interface ProxyRequest {
  method: string
  /** Path and query relative to the registry root, without the leading slash. */
  path: string
  /** Package the path is about, to pick `@scope:registry`; undefined for registry-wide paths. */
  name?: string
  headers: Record<string, string>
  body?: Readable
  /** Answer from npm's HTTP cache only (npm's `--offline`): ENOTCACHED when it holds nothing. */
  offline?: boolean
  signal?: AbortSignal
}

/** An Upstream that can also proxy any request (packuments, publish, audit, search…). */
export interface RegistryUpstream extends Upstream {
  /** The default registry (`registry` config), with a trailing slash. */
  readonly registry: string
  /** Sends a request to the registry that serves `name`, with npm's auth and cache; an HTTP error status is an answer, not a throw. */
  request(req: ProxyRequest): Promise<UpstreamResponse>
}

/**
 * Whether npm's retry back-off (10 s, then 60 s by default) can help a tarball request that failed
 * once. A refused connection cannot: nothing listens at the registry's address. npm waits 70 s to
 * learn that; we have had peers asked already, and answer at once with the same error.
 */
function worthRetrying (err: HttpError & { code?: string }): boolean {
  if (err.code === 'ECONNREFUSED') return false
  const status = err.statusCode
  return status === undefined || status >= 500 || status === 408 || status === 420 || status === 429
}

const withSlash = (url: string): string => url.endsWith('/') ? url : `${url}/`

/**
 * Creates the upstream over the user's npm options.
 *
 * @example
 * const upstream = createUpstream({ flat: config.flat })
 * const bytes = await upstream.tarball({ name: 'lodash', version: '4.17.21', integrity })
 */
export function createUpstream (init: { flat: FlatOptions }): RegistryUpstream {
  const fetch = require('npm-registry-fetch') as RegistryFetch
  const flat = init.flat
  const registryFor = (name: string): string => withSlash(fetch.pickRegistry(name.startsWith('@') ? `${name}@*` : name, flat))

  return {
    registry: withSlash(flat.registry),
    registryFor,
    async tarball (ref: TarballRef) {
      const url = ref.resolved ?? registryTarballUrl(registryFor(ref.name), ref.name, ref.version)
      // our cache writes the verified bytes by digest itself; make-fetch-happen need not keep a copy
      const opts = { ...flat, cache: undefined, spec: `${ref.name}@${ref.version}` }
      const retry = (flat.retry ?? {}) as { retries?: number }
      try {
        return new Uint8Array(await (await fetch(url, { ...opts, retry: { ...retry, retries: 0 } })).buffer())
      } catch (err) {
        if (!worthRetrying(err as HttpError & { code?: string }) || (retry.retries ?? 0) === 0) throw err
      }
      return new Uint8Array(await (await fetch(url, { ...opts, retry: { ...retry, retries: (retry.retries ?? 0) - 1 } })).buffer())
    },
    async request (req) {
      const url = `${req.name === undefined ? withSlash(flat.registry) : registryFor(req.name)}${req.path}`
      try {
        const res = await fetch(url, { ...flat, method: req.method, headers: req.headers, body: req.body, ...(req.offline === true ? { offline: true } : {}), ...(req.signal === undefined ? {} : { signal: req.signal }) })
        return { status: res.status, headers: res.headers.raw(), body: res.body }
      } catch (err) {
        // statuses are the client's to judge: hand the registry's answer over as it was
        const { statusCode, headers = {}, body } = err as HttpError
        if (statusCode === undefined) throw err
        const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body === undefined || body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body))
        return { status: statusCode, headers, body: bytes }
      }
    },
  }
}
