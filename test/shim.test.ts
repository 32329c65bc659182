/**
 * The loopback registry shim (src/registry/shim.ts) against real upstream registries: the main
 * fixture registry and a token-protected scoped one, reached through npm's own config loading.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTarballCache } from '../src/cache.ts'
import { loadNpmConfig } from '../src/config.ts'
import { findUserNpm } from '../src/npm-location.ts'
import { createLazyPeers } from '../src/peers.ts'
import { startShim, type Shim } from '../src/registry/shim.ts'
import { createUpstream } from '../src/registry/upstream.ts'
import { createTarballResolver } from '../src/resolver.ts'
import { DEFAULT_OPTIONS } from '../src/options.ts'
import type { TarballResolver } from '../src/types.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let shim: Shim
let resolver: TarballResolver
let shimUpstream: ReturnType<typeof createUpstream>

/** An HTTP request with full control of the Host header (fetch() would not allow it). */
function get (url: string, init: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('shim-test')
  const userconfig = join(work, 'npmrc')
  // no retries: a failing upstream must answer at once in these tests
  await registries.writeUserconfig(userconfig, ['fetch-retries=0'])
  const npm = findUserNpm()
  assert.ok(npm, 'npm must be installed')
  const config = await loadNpmConfig({ npm, argv: ['install', '--userconfig', userconfig, '--cache', join(work, 'cache')], cwd: work })
  const cacheDir = config.get('cache') as string
  const cache = createTarballCache({ cachePath: join(cacheDir, '_cacache') })
  const upstream = createUpstream({ flat: config.flat })
  shimUpstream = upstream
  const peers = createLazyPeers({ cacheDir, options: DEFAULT_OPTIONS, offline: true, log: () => {} })
  resolver = createTarballResolver({ cache, peers, upstream, offline: false })
  shim = await startShim({ upstream, resolver })
})

after(async () => {
  await shim.close()
  await registries.stop()
  await removeDir(work)
})

describe('packuments', () => {
  test('proxied unchanged: dist.tarball still names the upstream, so lockfiles stay portable', async () => {
    const res = await get(`${shim.url}alpha`)
    assert.equal(res.status, 200)
    const doc = JSON.parse(res.body.toString()) as { versions: Record<string, { dist: { tarball: string } }> }
    for (const { dist } of Object.values(doc.versions)) assert.ok(dist.tarball.startsWith(registries.main.url), dist.tarball)
  })

  test('scoped names go to the scoped registry with its token; the token goes nowhere else', async () => {
    const before = registries.main.requests.length
    const res = await get(`${shim.url}@fix%2fscoped-a`, { headers: { accept: 'application/vnd.npm.install-v1+json' } })
    assert.equal(res.status, 200)
    const doc = JSON.parse(res.body.toString()) as { name: string }
    assert.equal(doc.name, '@fix/scoped-a')
    const scopedHit = registries.scoped.requests.at(-1)
    assert.equal(scopedHit?.headers.authorization, `Bearer ${registries.token}`)
    assert.equal(scopedHit?.headers.accept, 'application/vnd.npm.install-v1+json')
    assert.equal(registries.main.requests.length, before, 'the main registry was not asked for a scoped package')
    assert.ok(registries.main.requests.every((r) => r.headers.authorization === undefined), 'no token ever reached the main registry')
  })

  test('an upstream 404 and 500 are passed on as they are, at once', async () => {
    const missing = await get(`${shim.url}no-such-package`)
    assert.equal(missing.status, 404)
    registries.main.faults.status.set('/beta', 500)
    try {
      const started = Date.now()
      const broken = await get(`${shim.url}beta`)
      assert.equal(broken.status, 500)
      assert.ok(Date.now() - started < 5000, 'no hidden retries')
    } finally {
      registries.main.faults.status.delete('/beta')
    }
  })
})

describe('large packuments', () => {
  test('read whole without a MaxListenersExceededWarning (npm prints none)', async () => {
    // a packument of many chunks, fetched once so make-fetch-happen tees it into its cache
    const gamma = registries.main.packages.get('gamma@1.0.0')!
    registries.main.packages.set('huge@1.0.0', { ...gamma, name: 'huge', filename: 'huge-1.0.0.tgz', manifest: { ...gamma.manifest, name: 'huge', description: 'x'.repeat(2 * 1024 * 1024) } })
    const hints: string[] = []
    const hinting = await startShim({ upstream: shimUpstream, resolver, onCidHint: (integrity) => hints.push(integrity) })
    const warnings: Error[] = []
    const onWarning = (warning: Error): void => { warnings.push(warning) }
    process.on('warning', onWarning)
    try {
      const packument = await get(`${hinting.url}huge`)
      assert.equal(packument.status, 200)
      assert.ok(packument.body.length > 2 * 1024 * 1024)
      // a tarball asked without pacote-integrity: its integrity is looked up in the packument
      const tarball = await get(`${hinting.url}huge/-/huge-1.0.0.tgz`)
      assert.equal(tarball.status, 200)
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(warnings.map((w) => `${w.name}: ${w.message}`), [])
    } finally {
      process.off('warning', onWarning)
      registries.main.packages.delete('huge@1.0.0')
      await hinting.close()
    }
  })
})

describe('tarballs', () => {
  async function tarballOf (name: string, version: string): Promise<{ url: string, integrity: string }> {
    const doc = JSON.parse((await get(`${registries.main.url}${name}`)).body.toString()) as { versions: Record<string, { dist: { tarball: string, integrity: string } }> }
    const { tarball, integrity } = doc.versions[version].dist
    return { url: `${shim.url}${new URL(tarball).pathname.slice(1)}`, integrity }
  }

  test('served verified, with the integrity pacote sends, and stored in the cache', async () => {
    const { url, integrity } = await tarballOf('gamma', '1.0.0')
    const res = await get(url, { headers: { 'pacote-integrity': integrity } })
    assert.equal(res.status, 200)
    const digest = `sha512-${createHash('sha512').update(res.body).digest('base64')}`
    assert.equal(digest, integrity)
    const tarballRequests = (): number => registries.main.requests.filter((r) => r.path.endsWith('/gamma-1.0.0.tgz')).length
    const before = tarballRequests()
    const again = await get(url, { headers: { 'pacote-integrity': integrity } })
    assert.equal(again.status, 200)
    assert.ok(Buffer.from(again.body).equals(Buffer.from(res.body)))
    assert.equal(tarballRequests(), before, 'the second request came from the cache')
  })

  test('without pacote-integrity (other clients) the integrity comes from the packument', async () => {
    const { url, integrity } = await tarballOf('gamma', '1.0.1')
    const res = await get(url)
    assert.equal(res.status, 200)
    assert.equal(`sha512-${createHash('sha512').update(res.body).digest('base64')}`, integrity)
  })

  test('a corrupt upstream tarball is refused, and nothing of it is cached', async () => {
    const { url, integrity } = await tarballOf('delta', '1.0.0')
    registries.main.faults.corrupt.add('delta@1.0.0')
    try {
      const res = await get(url, { headers: { 'pacote-integrity': integrity } })
      assert.ok(res.status >= 400, `status ${res.status}`)
      assert.match(res.body.toString(), /EINTEGRITY/)
      const cached = await createTarballCache({ cachePath: join(work, 'cache', '_cacache') }).has(integrity)
      assert.equal(cached, false)
    } finally {
      registries.main.faults.corrupt.delete('delta@1.0.0')
    }
  })

  test('an upstream that is down gives a fast error answer, not a hang', async () => {
    const { url, integrity } = await tarballOf('beta', '1.0.0')
    await registries.main.down()
    try {
      const started = Date.now()
      const res = await get(url, { headers: { 'pacote-integrity': integrity } })
      assert.ok(res.status >= 500, `status ${res.status}`)
      assert.ok(Date.now() - started < 5000)
      assert.equal(((shim.explain(Object.assign(new Error(`request to ${url} failed`)))) as { code?: string }).code, 'ECONNREFUSED')
    } finally {
      await registries.main.up()
    }
  })
})

describe('everything else', () => {
  test('non-GET requests are forwarded upstream with their body', async () => {
    const body = JSON.stringify({ name: 'published-thing', versions: {} })
    const res = await get(`${shim.url}published-thing`, { method: 'PUT', body, headers: { 'content-type': 'application/json' } })
    assert.ok(res.status < 500, `status ${res.status}`)
    const put = registries.main.requests.findLast((r) => r.method === 'PUT')
    assert.equal(put?.path, '/published-thing')
    assert.equal(put?.body.toString(), body)
  })

  test('a foreign Host header is refused (DNS rebinding)', async () => {
    const res = await get(`${shim.url}alpha`, { headers: { host: 'evil.example:80' } })
    assert.equal(res.status, 403)
  })

  test('path traversal and malformed names are refused', async () => {
    for (const path of ['..%2f..%2fetc%2fpasswd', 'alpha/..%2f..%2fsecret', '%E0%A4%A', '@scope-only']) {
      const res = await get(`${shim.url}${path}`)
      assert.equal(res.status, 400, path)
    }
  })

  test('nothing of the token appears in what the shim answers, though it was sent upstream', async () => {
    for (const path of ['@fix%2fno-such-scoped', '@fix%2fscoped-a', '@fix%2fno-such-scoped/-/no-such-scoped-1.0.0.tgz']) {
      const sent = registries.scoped.requests.length
      const res = await get(`${shim.url}${path}`)
      const upstream = registries.scoped.requests.slice(sent)
      assert.ok(upstream.some((r) => r.headers.authorization === `Bearer ${registries.token}`), `${path}: the token went to the scoped registry`)
      assert.ok(!res.body.toString().includes(registries.token), `${path}: not in the body`)
      assert.ok(!JSON.stringify(res.headers).includes(registries.token), `${path}: not in the headers`)
    }
  })
})
