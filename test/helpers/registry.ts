/**
 * A small, real npm registry over HTTP on 127.0.0.1 (random port), started in-process by tests.
 *
 * Serves packuments (full, or the abbreviated "corgi" form when the client accepts
 * `application/vnd.npm.install-v1+json`) and tarballs, with `dist.tarball` pointing back at
 * itself; accepts `PUT /<name>` (publish); records every request; can demand a bearer token; and
 * has fault switches a test flips while it runs: a status per path, corrupt tarball bytes (the
 * integrity left as it was), a delay, and down (not listening) / up again on the same port.
 */
import { createHash, generateKeyPairSync, sign as signData, type KeyObject } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadFixturePackages } from './fixture-packages.ts'
import type { PackedPackage } from './fixture-packages.ts'

export interface RegistryInit {
  /** Packages to serve; default: every fixture package (test/fixtures/packages). */
  packages?: PackedPackage[]
  /** Serve only the packages whose name passes, e.g. `name => name.startsWith('@fix/')`. */
  filter?: (name: string) => boolean
  /** Demand `Authorization: Bearer <token>` on every request (401 without it). */
  auth?: { token: string }
  /**
   * Sign every version as the public registry does (ECDSA P-256 over `name@version:integrity` in
   * `dist.signatures`) and publish the public key at `/-/npm/v1/keys`.
   */
  sign?: boolean
}

/** One request as it arrived. */
export interface RecordedRequest {
  method: string
  /** The path and query as sent (not decoded), e.g. `/@fix%2fscoped-a`. */
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** How long the registry held the answer back (its delay faults). */
  delayMs: number
}

/** A fixed answer for a method and path the registry does not otherwise know (audit, login…). */
export interface CannedResponse {
  status: number
  headers?: Record<string, string>
  body?: unknown
}

/** Switches a test may flip at any time; they apply to the next request. */
export interface RegistryFaults {
  /** Answer this status (with an npm-style JSON error) for a path, raw or decoded. */
  status: Map<string, number>
  /** `name@version` whose tarball bytes are served altered; the packument's integrity is not. */
  corrupt: Set<string>
  /** Wait this long before answering every request. */
  delayMs: number
  /** Wait this long before answering a path (raw or decoded); adds to `delayMs`. */
  pathDelayMs: Map<string, number>
}

export interface TestRegistry {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:40123/`. */
  url: string
  /** `host:port`, for `.npmrc` nerf-darted auth lines (`//127.0.0.1:40123/:_authToken=…`). */
  host: string
  /** Every request so far, oldest first (including refused ones). */
  requests: RecordedRequest[]
  faults: RegistryFaults
  /** Canned answers keyed by `"<METHOD> <decoded path>"`, e.g. `"POST /-/npm/v1/security/advisories/bulk"`. */
  routes: Map<string, CannedResponse>
  /** What is served now, by `name@version` (fixtures plus anything published). */
  packages: Map<string, PackedPackage>
  /** The URL this registry serves a version's tarball at. */
  tarballUrl(name: string, version: string): string
  /** Stops listening and drops open connections: clients get ECONNREFUSED until `up()`. */
  down(): Promise<void>
  /** Listens again on the same port. */
  up(): Promise<void>
  stop(): Promise<void>
}

/** Fields of a version kept in the abbreviated packument, as the public registry keeps them. */
const corgiFields = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies',
  'bundleDependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'directories', 'engines',
  'os', 'cpu', 'funding', 'license', '_hasShrinkwrap', 'hasInstallScript',
]

const corgiType = 'application/vnd.npm.install-v1+json'
/** Every version's publish time: fixed, so packuments and lockfiles never depend on the clock. */
const publishTime = '2020-01-01T00:00:00.000Z'

/** Starts a registry on 127.0.0.1 with a random port. */
export async function startRegistry (init: RegistryInit = {}): Promise<TestRegistry> {
  const all = init.packages ?? await loadFixturePackages()
  const packages = new Map<string, PackedPackage>()
  for (const p of all) if (init.filter?.(p.name) ?? true) packages.set(`${p.name}@${p.version}`, p)

  const requests: RecordedRequest[] = []
  const faults: RegistryFaults = { status: new Map(), corrupt: new Set(), delayMs: 0, pathDelayMs: new Map() }
  const routes = new Map<string, CannedResponse>()
  let port = 0
  const baseUrl = (): string => `http://127.0.0.1:${port}/`
  const tarballUrl = (name: string, version: string): string => {
    const p = packages.get(`${name}@${version}`)
    const file = p?.filename ?? `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`
    return `${baseUrl()}${name}/-/${file}`
  }

  const signer = init.sign === true ? createSigner() : undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    const rawPath = req.url ?? '/'
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: rawPath, headers: req.headers, body, delayMs: 0 }
    requests.push(recorded)
    const pathname = rawPath.split('?')[0] ?? '/'
    const path = safeDecode(pathname)

    const delay = faults.delayMs + (faults.pathDelayMs.get(pathname) ?? faults.pathDelayMs.get(path) ?? 0)
    recorded.delayMs = delay
    if (delay > 0) await sleep(delay)

    if (init.auth !== undefined && req.headers.authorization !== `Bearer ${init.auth.token}`) {
      return send(res, req, 401, { error: 'authentication required' })
    }
    const forced = faults.status.get(pathname) ?? faults.status.get(path)
    if (forced !== undefined) return send(res, req, forced, { error: `status ${forced} forced by the test` })

    const method = req.method ?? 'GET'
    const tarball = /^\/((?:@[^/]+\/)?[^/@]+)\/-\/([^/]+\.tgz)$/.exec(path)
    if (tarball !== null && (method === 'GET' || method === 'HEAD')) {
      const [, name, file] = tarball
      const pkg = [...packages.values()].find(p => p.name === name && p.filename === file)
      if (pkg === undefined) return send(res, req, 404, { error: 'Not found' })
      const bytes = faults.corrupt.has(`${pkg.name}@${pkg.version}`) ? corrupted(pkg.tarball) : pkg.tarball
      return send(res, req, 200, bytes, 'application/octet-stream')
    }
    const packument = /^\/((?:@[^/]+\/)?[^/@]+)$/.exec(path)
    if (packument !== null && (method === 'GET' || method === 'HEAD')) {
      const versions = [...packages.values()].filter(p => p.name === packument[1])
      if (versions.length === 0) return send(res, req, 404, { error: 'Not found' })
      const corgi = (req.headers.accept ?? '').includes(corgiType)
      return send(res, req, 200, buildPackument(versions, tarballUrl, corgi, signer), corgi ? corgiType : 'application/json')
    }
    if (packument !== null && method === 'PUT') {
      const result = publish(packages, body)
      return send(res, req, result.status, result.body)
    }
    if (signer !== undefined && path === '/-/npm/v1/keys' && method === 'GET') return send(res, req, 200, { keys: [signer.key] })
    const canned = routes.get(`${method} ${path}`)
    if (canned !== undefined) return send(res, req, canned.status, canned.body ?? {}, 'application/json', canned.headers)
    return send(res, req, 404, { error: 'Not found' })
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch(err => {
      if (!res.headersSent) send(res, req, 500, { error: String(err) })
      else res.destroy()
    })
  })
  const listen = (onPort: number): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(onPort, '127.0.0.1', () => {
      server.off('error', reject)
      port = (server.address() as AddressInfo).port
      resolve()
    })
  })
  const close = (): Promise<void> => new Promise(resolve => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })
  await listen(0)

  return {
    get url () { return baseUrl() },
    get host () { return `127.0.0.1:${port}` },
    requests,
    faults,
    routes,
    packages,
    tarballUrl,
    down: close,
    up: () => listen(port),
    stop: close,
  }
}

interface Signer {
  /** The key as `/-/npm/v1/keys` lists it. */
  key: { expires: null, keyid: string, keytype: string, scheme: string, key: string }
  sign(message: string): string
}

function createSigner (): Signer {
  const { privateKey, publicKey }: { privateKey: KeyObject, publicKey: KeyObject } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const keyid = `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`
  return {
    key: { expires: null, keyid, keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: spki.toString('base64') },
    sign: (message) => signData('sha256', Buffer.from(message), privateKey).toString('base64'),
  }
}

function buildPackument (
  versions: PackedPackage[],
  tarballUrl: (name: string, version: string) => string,
  corgi: boolean,
  signer?: Signer,
): Record<string, unknown> {
  const name = versions[0]!.name
  const sorted = [...versions].sort((a, b) => compareVersions(a.version, b.version))
  const latest = sorted.filter(p => !p.version.includes('-')).at(-1) ?? sorted.at(-1)!
  const docs: Record<string, unknown> = {}
  for (const p of sorted) {
    const doc: Record<string, unknown> = { ...p.manifest, _id: `${p.name}@${p.version}` }
    if (hasInstallScript(p.manifest)) doc.hasInstallScript = true
    doc.dist = { tarball: tarballUrl(p.name, p.version), integrity: p.integrity, shasum: p.shasum }
    if (signer !== undefined) (doc.dist as Record<string, unknown>).signatures = [{ keyid: signer.key.keyid, sig: signer.sign(`${p.name}@${p.version}:${p.integrity}`) }]
    docs[p.version] = corgi ? pick(doc, [...corgiFields, 'dist']) : doc
  }
  if (corgi) return { name, modified: publishTime, 'dist-tags': { latest: latest.version }, versions: docs }
  const time: Record<string, string> = { created: publishTime, modified: publishTime }
  for (const p of sorted) time[p.version] = publishTime
  return { _id: name, name, 'dist-tags': { latest: latest.version }, versions: docs, time, readme: '' }
}

/** Stores a `PUT /<name>` publish body's versions and tarballs; refuses to overwrite a version. */
function publish (packages: Map<string, PackedPackage>, body: Buffer): { status: number, body: unknown } {
  let doc: {
    versions?: Record<string, Record<string, unknown>>
    _attachments?: Record<string, { data: string }>
  }
  try {
    doc = JSON.parse(body.toString('utf8')) as typeof doc
  } catch {
    return { status: 400, body: { error: 'invalid JSON' } }
  }
  for (const manifest of Object.values(doc.versions ?? {})) {
    const name = String(manifest.name)
    const version = String(manifest.version)
    if (packages.has(`${name}@${version}`)) {
      return { status: 403, body: { error: `cannot publish over the previously published version ${version}` } }
    }
    const filename = `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`
    const attachment = doc._attachments?.[`${name}-${version}.tgz`] ?? doc._attachments?.[filename]
    if (attachment === undefined) return { status: 400, body: { error: `no tarball for ${name}@${version}` } }
    const tarball = Buffer.from(attachment.data, 'base64')
    const { dist: _dist, ...rest } = manifest
    packages.set(`${name}@${version}`, {
      name,
      version,
      manifest: rest,
      tarball,
      integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
      shasum: createHash('sha1').update(tarball).digest('hex'),
      filename,
    })
  }
  return { status: 201, body: { ok: true, success: true } }
}

function send (
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  body: unknown,
  type = 'application/json',
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'content-type': type, 'content-length': bytes.length, ...headers })
  res.end(req.method === 'HEAD' ? undefined : bytes)
}

function readBody (req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** The same length, a few bytes flipped in the middle: gunzip or the integrity check must fail. */
function corrupted (tarball: Buffer): Buffer {
  const copy = Buffer.from(tarball)
  const middle = Math.floor(copy.length / 2)
  for (let i = middle; i < Math.min(copy.length, middle + 16); i++) copy[i] = copy[i]! ^ 0xff
  return copy
}

function hasInstallScript (manifest: Record<string, unknown>): boolean {
  const scripts = (manifest.scripts ?? {}) as Record<string, unknown>
  return ['preinstall', 'install', 'postinstall'].some(event => typeof scripts[event] === 'string')
}

function pick (doc: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of keys) if (doc[key] !== undefined) out[key] = doc[key]
  return out
}

/** Orders plain `x.y.z[-pre]` versions; enough for fixtures (no build metadata). */
function compareVersions (a: string, b: string): number {
  const parse = (v: string): number[] => v.split('-')[0]!.split('.').map(Number)
  const [pa, pb] = [parse(a), parse(b)]
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!
  if (a.includes('-') !== b.includes('-')) return a.includes('-') ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

function safeDecode (path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}
