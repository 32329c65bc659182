/**
 * The shim's request guards: what a request must be before any route sees it. The shim answers
 * only on loopback, only to its own Host (no DNS rebinding), never to a web page, and passes on
 * request bodies only up to a bound, as they arrive.
 */
import type { IncomingMessage } from 'node:http'
import { Transform, type Readable } from 'node:stream'

/** Largest request body we pass on (a publish of a big package fits). */
export const MAX_BODY = 256 * 1024 * 1024

/** A request turned away: the status and the one-line reason to answer with. */
export interface Refusal { status: number, error: string }

/** The Host headers that name the shim itself on `port`. */
export function ownHosts (port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
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

/**
 * Why the shim will not answer `req`, or undefined when it may. `browserAllowed`: the request only
 * reads the shim's own state (serve's status page), which a browser may show; the Host check holds.
 */
export function refusal (req: IncomingMessage, allowedHosts: ReadonlySet<string>, { browserAllowed = false } = {}): Refusal | undefined {
  if (!allowedHosts.has(req.headers.host ?? '')) return { status: 403, error: 'this registry answers only to its own loopback address' }
  if (!browserAllowed && fromBrowser(req)) return { status: 403, error: 'this registry does not answer web pages' }
  if (!(req.url ?? '/').startsWith('/')) return { status: 400, error: 'malformed request target' }
  return undefined
}

/** Whether a declared body is over the bound, so the request can be refused before reading it. */
export function declaredTooLarge (req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > MAX_BODY
}

/**
 * The request body as a stream that fails once more than `limit` bytes came through (and then
 * says `tooLarge`): a body is passed on as it arrives, never buffered whole, so its size costs no memory.
 */
export function limitedBody (req: IncomingMessage, limit = MAX_BODY): Readable & { tooLarge?: boolean } {
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
