/**
 * The test registry (test/helpers/registry.ts) behaves as the conformance tests and the shim's
 * tests rely on: real npm installs from it, the corgi form when asked, auth, publish, recorded
 * requests and every fault switch. Also checks that the committed fixture lockfiles still match
 * the tarballs packed now (or says how to regenerate them).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fixtureProjectsDir } from './helpers/conformance.ts'
import { startFixtureRegistries } from './helpers/fixture-registries.ts'
import type { FixtureRegistries } from './helpers/fixture-registries.ts'
import { loadFixturePackages } from './helpers/fixture-packages.ts'
import { runCommand } from './helpers/run-command.ts'
import { tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('registry-test')
})
after(async () => {
  await registries.stop()
  await rm(work, { recursive: true, force: true })
})

/** GET (or other) against a registry, keep-alive off so `down()` is seen at once. */
async function request (url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { connection: 'close', ...init.headers } })
}

describe('packuments and tarballs', () => {
  test('full packument: every version, dist pointing back at the registry, matching integrity', async () => {
    const res = await request(`${registries.main.url}alpha`)
    assert.equal(res.status, 200)
    const doc = await res.json() as { name: string, 'dist-tags': { latest: string }, time: object, versions: Record<string, { dist: { tarball: string, integrity: string, shasum: string } }> }
    assert.equal(doc.name, 'alpha')
    assert.deepEqual(Object.keys(doc.versions), ['1.0.0', '1.1.0', '2.0.0'])
    assert.equal(doc['dist-tags'].latest, '2.0.0')
    assert.ok(doc.time)
    const dist = doc.versions['1.1.0']!.dist
    assert.equal(dist.tarball, `${registries.main.url}alpha/-/alpha-1.1.0.tgz`)
    const tarball = Buffer.from(await (await request(dist.tarball)).arrayBuffer())
    assert.equal(dist.integrity, `sha512-${createHash('sha512').update(tarball).digest('base64')}`)
    assert.equal(dist.shasum, createHash('sha1').update(tarball).digest('hex'))
    assert.equal(tarball.subarray(0, 2).toString('hex'), '1f8b', 'a gzip stream')
  })

  test('corgi form when the client accepts it, with hasInstallScript and without time/readme', async () => {
    const res = await request(`${registries.main.url}with-script`, { headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' } })
    assert.equal(res.headers.get('content-type'), 'application/vnd.npm.install-v1+json')
    const doc = await res.json() as Record<string, unknown> & { versions: Record<string, Record<string, unknown>> }
    assert.equal(doc.time, undefined)
    assert.equal(doc.readme, undefined)
    assert.equal(doc.versions['1.0.0']!.hasInstallScript, true)
    assert.equal(doc.versions['1.0.0']!.scripts, undefined, 'corgi versions carry no scripts')
  })

  test('scoped packument by %2f and tarball by scoped path, only with the token', async () => {
    const url = `${registries.scoped.url}@fix%2fscoped-a`
    assert.equal((await request(url)).status, 401)
    const auth = { authorization: `Bearer ${registries.token}` }
    const doc = await (await request(url, { headers: auth })).json() as { versions: Record<string, { dist: { tarball: string } }> }
    const tarballUrl = doc.versions['1.0.0']!.dist.tarball
    assert.equal(tarballUrl, `${registries.scoped.url}@fix/scoped-a/-/scoped-a-1.0.0.tgz`)
    assert.equal((await request(tarballUrl)).status, 401)
    assert.equal((await request(tarballUrl, { headers: auth })).status, 200)
    assert.equal((await request(`${registries.main.url}@fix%2fscoped-a`)).status, 404, 'scoped packages only on their registry')
  })

  test('a packed tarball is over 1 MiB for the big fixture, and fixtures pack to the same bytes each time', async () => {
    const big = registries.main.packages.get('big@1.0.0')!
    assert.ok(big.tarball.length > 1024 * 1024, `big is ${big.tarball.length} B`)
    const again = await loadFixturePackages()
    assert.equal(again.find(p => p.name === 'big')!.integrity, big.integrity)
  })

  test('the committed fixture lockfiles match the tarballs packed now', async () => {
    const served = new Map<string, string>()
    for (const r of [registries.main, registries.scoped]) for (const [spec, p] of r.packages) served.set(spec, p.integrity)
    for (const project of await readdir(fixtureProjectsDir)) {
      const lock = JSON.parse(await readFile(join(fixtureProjectsDir, project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, integrity?: string, name?: string, resolved?: string }> }
      for (const [key, entry] of Object.entries(lock.packages)) {
        if (entry.integrity === undefined) continue
        assert.ok(!String(entry.resolved ?? '').includes('://'), `${project}: ${key} carries a registry URL`)
        const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 13)
        assert.equal(served.get(`${name}@${entry.version}`), entry.integrity,
          `${project}: ${key} no longer matches its fixture tarball; run node test/fixtures/generate-lockfiles.ts`)
      }
    }
  })
})

describe('npm against the registry', () => {
  test('real npm installs scoped and unscoped packages, with auth only sent to the scoped registry', async () => {
    const dir = join(work, 'install')
    await writeFile(join(work, 'npmrc'), registries.npmrc())
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', dependencies: { '@fix/scoped-a': '1.0.0' } }))
    const seen = registries.main.requests.length
    const result = await runCommand('npm', ['install', '--userconfig', join(work, 'npmrc'), '--cache', join(work, 'cache')], { cwd: dir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /added 3 packages/)
    const mainRequests = registries.main.requests.slice(seen)
    assert.ok(mainRequests.some(r => r.path === '/gamma/-/gamma-1.0.1.tgz'))
    assert.ok(mainRequests.every(r => r.headers.authorization === undefined), 'no token sent to the main registry')
    assert.ok(registries.scoped.requests.some(r => r.path === '/@fix%2fscoped-a' && r.headers.authorization === `Bearer ${registries.token}`))
  })

  test('npm publish PUTs to /<name>; the version is then served', async () => {
    const dir = join(work, 'publish')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'fresh-pkg', version: '3.0.0' }))
    await writeFile(join(dir, 'index.js'), 'module.exports = 3\n')
    const npmrc = join(work, 'npmrc-publish')
    await writeFile(npmrc, `${registries.npmrc()}//${registries.main.host}/:_authToken=publish-token\n`)
    const result = await runCommand('npm', ['publish', '--userconfig', npmrc, '--cache', join(work, 'cache')], { cwd: dir })
    assert.equal(result.code, 0, result.stderr)
    const put = registries.main.requests.find(r => r.method === 'PUT' && r.path === '/fresh-pkg')
    assert.ok(put, 'PUT recorded')
    assert.equal(put.headers.authorization, 'Bearer publish-token')
    assert.ok(JSON.parse(put.body.toString()).versions['3.0.0'], 'the body is recorded')
    const doc = await (await request(`${registries.main.url}fresh-pkg`)).json() as { versions: Record<string, { dist: { tarball: string } }> }
    assert.equal((await request(doc.versions['3.0.0']!.dist.tarball)).status, 200)
  })

  test('unknown methods and paths are recorded and answered 404 unless a canned route says otherwise', async () => {
    const path = '/-/npm/v1/security/advisories/bulk'
    assert.equal((await request(`${registries.main.url}${path.slice(1)}`, { method: 'POST', body: '{"a":["1.0.0"]}' })).status, 404)
    registries.main.routes.set(`POST ${path}`, { status: 200, body: {} })
    assert.equal((await request(`${registries.main.url}${path.slice(1)}`, { method: 'POST', body: '{}' })).status, 200)
    const recorded = registries.main.requests.filter(r => r.path === path)
    assert.deepEqual(recorded.map(r => r.body.toString()), ['{"a":["1.0.0"]}', '{}'])
    registries.main.routes.delete(`POST ${path}`)
  })
})

describe('fault switches', () => {
  test('status override per path, raw or decoded', async () => {
    registries.main.faults.status.set('/beta', 500)
    registries.scoped.faults.status.set('/@fix/scoped-b', 404)
    try {
      assert.equal((await request(`${registries.main.url}beta`)).status, 500)
      assert.equal((await request(`${registries.main.url}gamma`)).status, 200)
      assert.equal((await request(`${registries.scoped.url}@fix%2fscoped-b`, { headers: { authorization: `Bearer ${registries.token}` } })).status, 404)
    } finally {
      registries.main.faults.status.clear()
      registries.scoped.faults.status.clear()
    }
  })

  test('a corrupt tarball keeps its length and packument integrity, and npm refuses it with EINTEGRITY', async () => {
    const gamma = registries.main.packages.get('gamma@2.0.0')!
    registries.main.faults.corrupt.add('gamma@2.0.0')
    try {
      const bytes = Buffer.from(await (await request(registries.main.tarballUrl('gamma', '2.0.0'))).arrayBuffer())
      assert.equal(bytes.length, gamma.tarball.length)
      assert.notDeepEqual(bytes, gamma.tarball)
      const dir = join(work, 'corrupt')
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'c', version: '1.0.0', dependencies: { gamma: '2.0.0' } }))
      // npm retries a bad tarball with a 10 s+ backoff; no retries keeps the test fast.
      await writeFile(join(work, 'npmrc-no-retry'), registries.npmrc(['fetch-retries=0']))
      const result = await runCommand('npm', ['install', '--userconfig', join(work, 'npmrc-no-retry'), '--cache', join(work, 'cache-corrupt')], { cwd: dir })
      assert.notEqual(result.code, 0)
      assert.match(result.stderr, /EINTEGRITY/)
    } finally {
      registries.main.faults.corrupt.clear()
    }
  })

  test('delay, overall and per path', async () => {
    registries.main.faults.pathDelayMs.set('/opt-ok', 300)
    // what each answer was held back by, as the registry recorded it; the clock can only confirm
    // a delay was at least that long (a loaded machine makes every answer slower, never faster)
    const delayed = async (path: string): Promise<number> => {
      const started = performance.now()
      await request(`${registries.main.url}${path}`)
      const ms = performance.now() - started
      const { delayMs } = registries.main.requests.at(-1)!
      assert.ok(ms >= delayMs - 10, `${path}: answered after ${ms} ms, held ${delayMs} ms`)
      return delayMs
    }
    try {
      assert.equal(await delayed('opt-ok'), 300, 'per path')
      assert.equal(await delayed('gamma'), 0, 'another path')
      registries.main.faults.delayMs = 200
      assert.equal(await delayed('gamma'), 200, 'overall')
      assert.equal(await delayed('opt-ok'), 500, 'overall plus per path')
    } finally {
      registries.main.faults.pathDelayMs.clear()
      registries.main.faults.delayMs = 0
    }
  })

  test('down refuses connections; up serves again on the same port', async () => {
    const url = registries.main.url
    await registries.main.down()
    await assert.rejects(request(`${url}gamma`), (err: Error) => /ECONNREFUSED/.test(String((err.cause as Error | undefined)?.message ?? err)))
    await registries.main.up()
    assert.equal(registries.main.url, url)
    assert.equal((await request(`${url}gamma`)).status, 200)
  })
})
