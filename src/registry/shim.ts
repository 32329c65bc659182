/**
 * The loopback registry shim (DESIGN step 4): the registry Arborist — or any npm client — talks
 * to. Thin routes over the parts that decide: the request guards (guards.ts), the packument
 * lookup (packument.ts), the resolver (cache → peers → registry, verified before the first byte
 * goes out) and the failure rewriting (failures.ts). Packuments point their tarballs at the shim
 * in the form each client keeps out of its lockfile (clients.ts). Every other request is forwarded
 * upstream unchanged. It logs one line per request at npm's `http` level, never a header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import procLog from 'proc-log'
import type { HttpError } from '../errors.ts'
import { versionFromFileName } from '../tarball-url.ts'
import type { TarballOrigin, TarballRef, TarballResolver } from '../types.ts'
import { clientKind, rewriteTarballs, type ClientKind } from './clients.ts'
import { createFailureExplainer, statusFor } from './failures.ts'
import { declaredTooLarge, limitedBody, ownHosts, refusal } from './guards.ts'
import type { LocalVersions } from './local-versions.ts'
import { bodyBytes, cidHints, escapedName, tarballFromPackument } from './packument.ts'
import type { PackumentRequest } from './packument-route.ts'
import { parseRoute, upstreamTarballUrl, type Route } from './routes.ts'
import { createSameUserCheck } from './same-user.ts'
import type { RegistryUpstream, UpstreamResponse } from './upstream.ts'

const { log } = procLog
// required, not imported: an ES import of node:http reads every export, and its lazy ones load
// undici (60-80 ms of every install's start here)
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export interface ShimInit {
  upstream: RegistryUpstream
  resolver: TarballResolver
  /** Where `dist.cid` announcements in packuments go (large tarballs' root CIDs). */
  onCidHint?: (integrity: string, cid: string) => void
  /** Where packuments come from when not straight from the registry (peers, indexes): packument-route.ts. */
  packuments?: (req: PackumentRequest) => Promise<UpstreamResponse>
  /** Versions known here that the registry may lack (installed by CID), added to its packuments. */
  localVersions?: LocalVersions
  /** Extra read-only routes under `/-/ipfs-npm/` (e.g. `info` for `serve`), open to browsers too. */
  extraRoutes?: Record<string, () => unknown>
  /** The page a browser gets for `GET /` (serve's status page); without it `/` goes upstream. */
  page?: () => Promise<string>
  /** Log one line per request at npm's `http` level (serve; an install has npm's own lines). */
  logRequests?: boolean
  /** Told of every tarball sent to a client, once its last byte went out. */
  onServed?: (served: { client: ClientKind, origin: TarballOrigin, bytes: number }) => void
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

function pickHeaders (req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name]
    if (typeof value === 'string') out[name] = value
  }
  return out
}

/** Answers with an HTML page, for a browser. */
function sendHtml (res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
  res.end(html)
}

/** Answers with a JSON body; `close` ends the connection too (the request was not read to its end). */
function sendJson (res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) })
  res.end(text)
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

/**
 * Starts the shim.
 *
 * @example
 * const shim = await startShim({ upstream, resolver })
 * const arb = new Arborist({ ...flat, registry: shim.url })
 */
export async function startShim (init: ShimInit): Promise<Shim> {
  const { upstream, resolver } = init
  const closing = new AbortController()
  const host = init.host ?? '127.0.0.1'
  let allowedHosts = new Set<string>()
  const sameUser = createSameUserCheck()
  let url = ''

  /** Serves a tarball; resolves to where its bytes came from. */
  async function serveTarball (req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: 'tarball' }>): Promise<TarballOrigin | undefined> {
    const resolved = upstreamTarballUrl(upstream.registryFor, route)
    const header = req.headers['pacote-integrity']
    const version = versionFromFileName(route.name, route.file)
    const local = init.localVersions?.byFile(route.name, route.file)
    const ref: TarballRef | undefined = typeof header === 'string' && header !== '' && version !== undefined
      ? { name: route.name, version, integrity: header, resolved }
      : local !== undefined
        ? { name: route.name, version: local.version, integrity: local.dist.integrity, resolved }
        : await tarballFromPackument((accept) => fetchPackument(route.name, escapedName(route.name), { accept }), route.name, route.file, resolved)
    if (ref === undefined) {
      sendJson(res, 404, { error: `no integrity known for ${route.name}/-/${route.file}` })
      return
    }
    const { data, origin } = await resolver.resolve(ref)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'cache-control': 'no-store' })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    res.end(data, () => init.onServed?.({ client: clientKind(req.headers['user-agent']), origin, bytes: data.length }))
    return origin
  }

  /** The packument from the registry, or from peers and indexes when the packument route decides so. */
  function fetchPackument (name: string, path: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    return init.packuments === undefined
      ? upstream.request({ method: 'GET', path, name, headers })
      : init.packuments({
        name,
        registry: upstream.registryFor(name),
        wantFull: !String(headers.accept ?? '').includes('application/vnd.npm.install-v1+json'),
        // a registry request nobody waits for any more (a peer answered) must not outlive the shim
        fromRegistry: () => upstream.request({ method: 'GET', path, name, headers, signal: closing.signal }),
        fromCache: () => upstream.request({ method: 'GET', path, name, headers, offline: true }),
      })
  }

  /** The packument as found (none when nothing has it or nothing answers) with the local versions added. */
  async function serveWithLocalVersions (req: IncomingMessage, res: ServerResponse, local: LocalVersions, name: string, path: string): Promise<void> {
    // no `if-none-match`: a 304 would send the client back to a copy without the local versions
    const { 'if-none-match': _, ...headers } = pickHeaders(req)
    const answer = await fetchPackument(name, path, headers).catch(() => undefined)
    const packument = answer?.status === 200 ? JSON.parse((await bodyBytes(answer)).toString('utf8')) as Record<string, unknown> : undefined
    if (answer !== undefined && answer.status !== 200 && !Buffer.isBuffer(answer.body)) answer.body.resume()
    const merged = local.merge(name, packument) as Parameters<typeof rewriteTarballs>[0]
    rewriteTarballs(merged, clientKind(req.headers['user-agent']), { upstreamRegistry: upstream.registryFor(name), self: url })
    sendJson(res, 200, merged)
  }

  async function servePackument (req: IncomingMessage, res: ServerResponse, name: string, path: string): Promise<void> {
    if (init.localVersions?.has(name) === true) {
      await serveWithLocalVersions(req, res, init.localVersions, name, path)
      return
    }
    const answer = await fetchPackument(name, path, pickHeaders(req))
    const client = clientKind(req.headers['user-agent'])
    const rewrite = client !== 'npm' && client !== 'other'
    if (answer.status !== 200 || (init.onCidHint === undefined && !rewrite)) {
      await sendUpstream(req, res, answer)
      return
    }
    let body = await bodyBytes(answer)
    if (init.onCidHint !== undefined) cidHints(body.toString('utf8'), init.onCidHint)
    if (rewrite) {
      try {
        const packument = JSON.parse(body.toString('utf8')) as Parameters<typeof rewriteTarballs>[0]
        if (rewriteTarballs(packument, client, { upstreamRegistry: upstream.registryFor(name), self: url })) body = Buffer.from(JSON.stringify(packument))
      } catch {
        // not JSON: the client will say so; it gets the bytes as they came
      }
    }
    await sendUpstream(req, res, answer, body)
  }

  async function forward (req: IncomingMessage, res: ServerResponse, path: string, name: string | undefined): Promise<void> {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    if (hasBody && declaredTooLarge(req)) {
      sendJson(res, 413, { error: 'request body too large' }, true)
      return
    }
    const headers = pickHeaders(req)
    if (hasBody && typeof req.headers['content-length'] === 'string') headers['content-length'] = req.headers['content-length']
    const body = hasBody ? limitedBody(req) : undefined
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

  /** Answers the request; resolves to where a tarball's bytes came from, for the log line. */
  async function handle (req: IncomingMessage, res: ServerResponse): Promise<TarballOrigin | undefined> {
    // loopback is every local account's: what the user's credentials reach is the user's alone
    if (!await sameUser(req.socket)) {
      sendJson(res, 403, { error: 'this registry answers only to processes of the user running it' })
      req.resume()
      return
    }
    // the path as sent: URL parsing would resolve `/%2e%2e/` and hide a traversal attempt
    const target = req.url ?? '/'
    const queryAt = target.indexOf('?')
    const pathname = queryAt === -1 ? target : target.slice(0, queryAt)
    const search = queryAt === -1 ? '' : target.slice(queryAt)
    const extra = pathname.startsWith('/-/ipfs-npm/') ? init.extraRoutes?.[pathname.slice('/-/ipfs-npm/'.length)] : undefined
    const page = pathname === '/' && /\btext\/html\b/.test(req.headers.accept ?? '') ? init.page : undefined
    // what only reads our own state may be shown to a browser; the Host check still holds
    const ownPage = req.method === 'GET' && (extra !== undefined || page !== undefined)
    const refused = refusal(req, allowedHosts, { browserAllowed: ownPage })
    if (refused !== undefined) {
      sendJson(res, refused.status, { error: refused.error })
      req.resume()
      return
    }
    if (ownPage) {
      if (page !== undefined) sendHtml(res, await page())
      else sendJson(res, 200, await extra?.())
      return
    }
    const route = parseRoute(pathname)
    const path = `${pathname.slice(1)}${search}`
    const readOnly = req.method === 'GET' || req.method === 'HEAD'
    if (route.kind === 'invalid') sendJson(res, 400, { error: route.reason })
    else if (route.kind === 'tarball' && readOnly) return await serveTarball(req, res, route)
    else if (route.kind === 'packument' && req.method === 'GET') await servePackument(req, res, route.name, `${escapedName(route.name)}${search}`)
    else await forward(req, res, path, route.kind === 'registry' ? undefined : route.name)
  }

  /** npm's `http` log line for a request: method, status, path (never the query or a header), time, client. */
  function logRequest (req: IncomingMessage, res: ServerResponse, started: number, origin?: TarballOrigin): void {
    const path = (req.url ?? '/').split('?')[0]
    log.http('serve', `${req.method ?? 'GET'} ${res.statusCode} ${path} ${Date.now() - started}ms ${clientKind(req.headers['user-agent'])}${origin === undefined ? '' : ` (from ${origin})`}`)
  }

  let failures: ReturnType<typeof createFailureExplainer> | undefined
  const server = createServer({ keepAlive: true }, (req, res) => {
    const started = Date.now()
    handle(req, res).then((origin) => {
      if (init.logRequests === true) logRequest(req, res, started, origin)
    }, (err: HttpError) => {
      failures?.record(err)
      if (res.headersSent) res.destroy()
      else sendJson(res, statusFor(err), { error: err.message, code: err.code })
      if (init.logRequests === true) logRequest(req, res, started)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  allowedHosts = ownHosts(port)
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`
  failures = createFailureExplainer({ shimUrl: url, registry: upstream.registry, registryFor: upstream.registryFor })

  return {
    url,
    explain: failures.explain,
    close () {
      closing.abort()
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
