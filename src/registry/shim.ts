/**
 * The loopback registry shim (DESIGN step 4): the registry Arborist — or any npm client — talks
 * to. Packuments are proxied to the right upstream; tarballs come from the resolver (cache →
 * peers → registry), verified before the first byte goes out; every other request is forwarded
 * upstream unchanged. It listens on loopback only, answers only to its own Host (no DNS
 * rebinding), and never logs a header.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { TarballRef, TarballResolver } from '../types.ts'
import { parseRoute, upstreamTarballUrl, versionFromFile, type Route } from './routes.ts'
import type { RegistryUpstream, UpstreamResponse } from './upstream.ts'

export interface ShimInit {
  upstream: RegistryUpstream
  resolver: TarballResolver
  /** Where `dist.cid` announcements in packuments go (large tarballs' root CIDs). */
  onCidHint?: (integrity: string, cid: string) => void
  /** Extra read-only routes under `/-/ipfs-npm/` (e.g. `info` for `serve`). */
  extraRoutes?: Record<string, () => unknown>
  /** 0 (default) for a random port. */
  port?: number
  host?: string
}

export interface Shim {
  /** `http://127.0.0.1:PORT/`, the registry URL to give clients. */
  readonly url: string
  /**
   * The error to show for a failure a client met through the shim: the upstream failure behind
   * it, or the same error naming the upstream registry instead of the loopback address.
   */
  explain(err: unknown): unknown
  close(): Promise<void>
}

/** Request headers worth passing upstream; npm-registry-fetch sets its own user-agent, session… */
const FORWARDED_REQUEST_HEADERS = ['accept', 'authorization', 'content-type', 'npm-otp', 'npm-command', 'npm-auth-type', 'npm-scope', 'if-none-match']
/** Response headers that describe the body as we send it, not as upstream did. */
const DROPPED_RESPONSE_HEADERS = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'cache-control', 'etag', 'last-modified', 'age', 'set-cookie'])
/** Largest request body we pass on (a publish of a big package fits). */
const MAX_BODY = 256 * 1024 * 1024

type HttpError = Error & { statusCode?: number, code?: string }

function statusFor (err: HttpError): number {
  if (typeof err.statusCode === 'number' && err.statusCode >= 400) return err.statusCode
  if (err.code === 'E404') return 404
  if (err.code === 'ENOTCACHED') return 504
  return 502
}

function pickHeaders (req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name]
    if (typeof value === 'string') out[name] = value
  }
  return out
}

/** Answers with a JSON body; `close` ends the connection too (the request was not read to its end). */
function sendJson (res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) })
  res.end(text)
}

/**
 * The request body as a stream that fails with a 413 error once more than `limit` bytes came
 * through: a body is passed on as it arrives, never buffered whole, so its size costs no memory.
 */
function limitedBody (req: IncomingMessage, limit: number): Readable & { tooLarge?: boolean } {
  let size = 0
  const counted: Transform & { tooLarge?: boolean } = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      size += chunk.length
      if (size > limit) {
        counted.tooLarge = true
        callback(new Error('request body too large'))
      }
      else callback(null, chunk)
    },
  })
  req.on('error', (err) => counted.destroy(err))
  req.pipe(counted)
  return counted
}

/**
 * Whether a browser sent the request: browsers add `Origin` to cross-origin and non-GET requests
 * and `Sec-Fetch-Site` to all; npm clients send neither (Node's fetch sends `Sec-Fetch-Mode`
 * only, so that one is no sign). A web page must not reach the user's registry credentials
 * through the shim (CSRF, or CORS preflights answered upstream).
 */
function fromBrowser (req: IncomingMessage): boolean {
  return req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined
}

async function sendUpstream (req: IncomingMessage, res: ServerResponse, answer: UpstreamResponse, body?: Buffer): Promise<void> {
  const headers: Record<string, string[]> = { 'cache-control': ['no-store'] }
  for (const [name, value] of Object.entries(answer.headers)) {
    if (!DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) headers[name] = value
  }
  const bytes = body ?? (Buffer.isBuffer(answer.body) ? answer.body : undefined)
  if (bytes !== undefined) headers['content-length'] = [String(bytes.length)]
  res.writeHead(answer.status, headers)
  if (req.method === 'HEAD') {
    res.end()
    if (!Buffer.isBuffer(answer.body)) answer.body.resume()
    return
  }
  if (bytes !== undefined) res.end(bytes)
  else await pipeline(answer.body as Readable, res)
}

/** Collects `dist.cid` announcements (the registry-mirror format) from a packument. */
function cidHints (text: string, onHint: (integrity: string, cid: string) => void): void {
  if (!text.includes('"cid"')) return
  try {
    const packument = JSON.parse(text) as { versions?: Record<string, { dist?: { integrity?: string, cid?: unknown } }> }
    for (const { dist } of Object.values(packument.versions ?? {})) {
      if (typeof dist?.integrity === 'string' && typeof dist.cid === 'string') onHint(dist.integrity, dist.cid)
    }
  } catch {
    // not JSON: the client will find out; no hints from it
  }
}

/** The whole body of an upstream answer (a minipass stream, which async-iterates, or bytes). */
async function bodyBytes (answer: UpstreamResponse): Promise<Buffer> {
  if (Buffer.isBuffer(answer.body)) return answer.body
  const chunks: Buffer[] = []
  for await (const chunk of answer.body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function sha1Integrity (shasum: unknown): string | undefined {
  return typeof shasum === 'string' && /^[0-9a-f]{40}$/i.test(shasum) ? `sha1-${Buffer.from(shasum, 'hex').toString('base64')}` : undefined
}

/**
 * Starts the shim.
 *
 * @example
 * const shim = await startShim({ upstream, resolver })
 * const arb = new Arborist({ ...flat, registry: shim.url })
 */
export async function startShim (init: ShimInit): Promise<Shim> {
  const { upstream, resolver } = init
  const host = init.host ?? '127.0.0.1'
  let lastUpstreamError: Error | undefined
  let allowedHosts = new Set<string>()

  /**
   * The tarball nobody told us the integrity of, described by its packument. It is fetched from
   * `resolved` (the configured registry's URL for the path asked), never from wherever the
   * packument's `dist.tarball` points.
   */
  async function describeFromPackument (name: string, file: string, resolved: string): Promise<TarballRef | undefined> {
    const answer = await upstream.request({ method: 'GET', path: encodeURIComponent(name).replace(/^%40/, '@'), name, headers: { accept: 'application/json' } })
    if (answer.status !== 200) return undefined
    const body = await bodyBytes(answer)
    const packument = JSON.parse(body.toString('utf8')) as { versions?: Record<string, { version: string, dist?: { tarball?: string, integrity?: string, shasum?: string } }> }
    for (const manifest of Object.values(packument.versions ?? {})) {
      const tarball = manifest?.dist?.tarball
      if (typeof tarball !== 'string' || !tarball.endsWith(`/${file}`)) continue
      const integrity = manifest.dist?.integrity ?? sha1Integrity(manifest.dist?.shasum)
      return typeof integrity !== 'string' || typeof manifest.version !== 'string' ? undefined : { name, version: manifest.version, integrity, resolved }
    }
    return undefined
  }

  async function serveTarball (req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: 'tarball' }>): Promise<void> {
    const resolved = upstreamTarballUrl(upstream.registryFor, route)
    const header = req.headers['pacote-integrity']
    const version = versionFromFile(route.name, route.file)
    const ref: TarballRef | undefined = typeof header === 'string' && header !== '' && version !== undefined
      ? { name: route.name, version, integrity: header, resolved }
      : await describeFromPackument(route.name, route.file, resolved)
    if (ref === undefined) {
      sendJson(res, 404, { error: `no integrity known for ${route.name}/-/${route.file}` })
      return
    }
    const { data } = await resolver.resolve(ref)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : data)
  }

  async function servePackument (req: IncomingMessage, res: ServerResponse, name: string, path: string): Promise<void> {
    const answer = await upstream.request({ method: 'GET', path, name, headers: pickHeaders(req) })
    if (answer.status !== 200 || init.onCidHint === undefined) {
      await sendUpstream(req, res, answer)
      return
    }
    const body = await bodyBytes(answer)
    cidHints(body.toString('utf8'), init.onCidHint)
    await sendUpstream(req, res, answer, body)
  }

  async function forward (req: IncomingMessage, res: ServerResponse, path: string, name: string | undefined): Promise<void> {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    if (hasBody && Number(req.headers['content-length'] ?? 0) > MAX_BODY) {
      sendJson(res, 413, { error: 'request body too large' }, true)
      return
    }
    const headers = pickHeaders(req)
    if (hasBody && typeof req.headers['content-length'] === 'string') headers['content-length'] = req.headers['content-length']
    const body = hasBody ? limitedBody(req, MAX_BODY) : undefined
    let answer: UpstreamResponse
    try {
      answer = await upstream.request({ method: req.method ?? 'GET', path, name, headers, body })
    } catch (err) {
      if (body?.tooLarge !== true) throw err
      sendJson(res, 413, { error: 'request body too large' }, true)
      return
    }
    await sendUpstream(req, res, answer)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts.has(req.headers.host ?? '')) {
      sendJson(res, 403, { error: 'this registry answers only to its own loopback address' })
      req.resume()
      return
    }
    if (fromBrowser(req)) {
      sendJson(res, 403, { error: 'this registry does not answer web pages' })
      req.resume()
      return
    }
    // the path as sent: URL parsing would resolve `/%2e%2e/` and hide a traversal attempt
    const target = req.url ?? '/'
    const queryAt = target.indexOf('?')
    const url = { pathname: queryAt === -1 ? target : target.slice(0, queryAt), search: queryAt === -1 ? '' : target.slice(queryAt) }
    if (!url.pathname.startsWith('/')) {
      sendJson(res, 400, { error: 'malformed request target' })
      req.resume()
      return
    }
    const extra = url.pathname.startsWith('/-/ipfs-npm/') ? init.extraRoutes?.[url.pathname.slice('/-/ipfs-npm/'.length)] : undefined
    if (extra !== undefined && req.method === 'GET') {
      sendJson(res, 200, extra())
      return
    }
    const route = parseRoute(url.pathname)
    const path = `${url.pathname.slice(1)}${url.search}`
    const readOnly = req.method === 'GET' || req.method === 'HEAD'
    if (route.kind === 'invalid') sendJson(res, 400, { error: route.reason })
    else if (route.kind === 'tarball' && readOnly) await serveTarball(req, res, route)
    else if (route.kind === 'packument' && req.method === 'GET') await servePackument(req, res, route.name, path)
    else await forward(req, res, path, route.kind === 'registry' ? undefined : route.name)
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((err: HttpError) => {
      lastUpstreamError = err
      if (res.headersSent) res.destroy()
      else sendJson(res, statusFor(err), { error: err.message, code: err.code })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  const shimHost = host.includes(':') ? `[${host}]` : host

  const url = `http://${shimHost}:${port}/`
  /** The upstream URL a shim URL stands for. */
  const upstreamUrl = (shimUrl: string): string => {
    const path = shimUrl.slice(url.length)
    const route = parseRoute(`/${path.split('?')[0]}`)
    return `${'name' in route ? upstream.registryFor(route.name) : upstream.registry}${path}`
  }

  return {
    url,
    explain (err) {
      if (!(err instanceof Error)) return err
      const where = `${err.message} ${(err as { uri?: string }).uri ?? ''}`
      if (!where.includes(url)) return err
      if (lastUpstreamError !== undefined) return lastUpstreamError
      err.message = err.message.replace(new RegExp(`${url.replace(/[.[\]]/g, '\\$&')}\\S*`, 'g'), upstreamUrl)
      return err
    },
    close () {
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
