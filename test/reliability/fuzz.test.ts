/**
 * Fuzzing the parsers that meet untrusted input, with a seeded generator (the seed is printed so
 * a failure can be replayed with FUZZ_SEED):
 * - lockfiles: thousands of mutations of a real one through Arborist's `loadVirtual` and our
 *   plan (src/commands/plan.ts) and the integrity → CID code the fetch phase applies to each entry;
 * - packuments: a real shim over a real upstream HTTP server answering mutated packuments, for
 *   the packument route (dist.cid hints) and the tarball route without pacote-integrity (which
 *   reads the packument to learn the integrity);
 * - request paths, integrities and CIDs from peers straight into their parsers.
 * Properties: nothing but a clean Error escapes, the shim answers every request, no hint or plan
 * entry carries a non-string, and no route names a path outside the registry.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CID } from 'multiformats/cid'
import { createTarballCache } from '../../src/cache.ts'
import { fillRegistryResolved, plannedTarballs } from '../../src/commands/plan.ts'
import type { ArboristClass, TreeNode } from '../../src/commands/arborist-types.ts'
import { loadNpmConfig } from '../../src/config.ts'
import { rawCidFromIntegrity } from '../../src/ipfs/cid.ts'
import { hashesOf, matchesIntegrity } from '../../src/integrity.ts'
import { findUserNpm } from '../../src/npm-location.ts'
import { DEFAULT_OPTIONS } from '../../src/options.ts'
import { createLazyPeers } from '../../src/peers.ts'
import { parseRoute } from '../../src/registry/routes.ts'
import { startShim, type Shim } from '../../src/registry/shim.ts'
import { createUpstream } from '../../src/registry/upstream.ts'
import { createTarballResolver } from '../../src/resolver.ts'
import { fixtureProjectsDir } from '../helpers/conformance.ts'
import { seededRandom } from '../helpers/seeded-random.ts'
import { createWorkspace, report, type Workspace } from './helpers.ts'

const require = createRequire(import.meta.url)
const Arborist = require('@npmcli/arborist') as ArboristClass

const { seed: SEED, random } = seededRandom('FUZZ_SEED')
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!

/** Values hostile to parsers: wrong types, traversal, control characters, huge and odd strings. */
function hostileValue (): unknown {
  return pick<() => unknown>([
    () => null, () => 42, () => -1, () => 1e308, () => true, () => [], () => ({}), () => [1, 'a', null],
    () => '', () => '..', () => '../../../../etc/passwd', () => 'node_modules/../../x', () => '\u0000\u001b[31m',
    () => 'x'.repeat(10_000 + Math.floor(random() * 50_000)), () => 'sha512-', () => 'sha512-!!!',
    () => `sha512-${Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))).toString('base64')}`,
    () => `sha1-${Buffer.alloc(20, 1).toString('base64')} sha512-short`, () => 'md5-AAAA', () => 'file:/etc/passwd',
    () => 'http://169.254.169.254/latest/meta-data', () => 'bafkreigarbage', () => '\ud800', () => ({ __proto__: { polluted: true } }),
    () => String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(random() * 0xffff))),
  ])()
}

/** One random change somewhere in a JSON tree (in place). */
function mutate (doc: unknown, depth = 0): void {
  if (doc === null || typeof doc !== 'object') return
  const record = doc as Record<string, unknown>
  const keys = Object.keys(record)
  const action = random()
  if (keys.length === 0 || action < 0.15) {
    record[pick(['integrity', 'version', 'resolved', 'name', 'dependencies', 'cid', 'dist', 'link', 'packages', '..', '__proto__', `node_modules/${String(hostileValue()).slice(0, 40)}`])] = hostileValue()
    return
  }
  const key = pick(keys)
  if (action < 0.3) delete record[key]
  else if (action < 0.6 || depth > 4) record[key] = hostileValue()
  else mutate(record[key], depth + 1)
}

let ws: Workspace
let lockText: string
let upstreamServer: Server
let shim: Shim
let currentPackument = '{}'
const hints: Array<[unknown, unknown]> = []

before(async () => {
  ws = await createWorkspace('fuzz')
  lockText = await readFile(join(fixtureProjectsDir, 'basic', 'package-lock.json'), 'utf8')
  upstreamServer = createServer((req, res) => {
    const body = req.url?.endsWith('.tgz') ? Buffer.from('not a tarball') : Buffer.from(currentPackument)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' })
    res.end(body)
  })
  await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve))
  const userconfig = join(ws.root, 'npmrc')
  await writeFile(userconfig, `registry=http://127.0.0.1:${(upstreamServer.address() as { port: number }).port}/\nfetch-retries=0\n`)
  const npm = findUserNpm()
  assert.ok(npm)
  const config = await loadNpmConfig({ npm, argv: ['install', '--userconfig', userconfig, '--cache', join(ws.root, 'cache')], cwd: ws.root })
  const upstream = createUpstream({ flat: config.flat })
  const cache = createTarballCache({ cachePath: join(ws.root, 'cache', '_cacache') })
  const peers = createLazyPeers({ cacheDir: join(ws.root, 'cache'), options: DEFAULT_OPTIONS, offline: true, log: () => {} })
  shim = await startShim({ upstream, resolver: createTarballResolver({ cache, peers, upstream, offline: false }), onCidHint: (integrity, cid) => hints.push([integrity, cid]) })
})
after(async () => {
  await shim.close()
  await new Promise((resolve) => upstreamServer.close(resolve))
  await ws.cleanup()
})

test(`lockfiles: 1500 mutations through loadVirtual, the plan and the integrity code (seed ${SEED})`, async () => {
  const dir = join(ws.root, 'lock-fuzz')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'package.json'), await readFile(join(fixtureProjectsDir, 'basic', 'package.json')))
  let loaded = 0
  let refused = 0
  let planned = 0
  for (let i = 0; i < 1500; i++) {
    const lock = JSON.parse(lockText) as unknown
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) mutate(random() < 0.8 ? (lock as { packages: unknown }).packages : lock)
    const text = random() < 0.05 ? lockText.slice(0, Math.floor(random() * lockText.length)) : JSON.stringify(lock)
    await writeFile(join(dir, 'package-lock.json'), text)
    let virtual: TreeNode
    try {
      virtual = await new Arborist({ path: dir }).loadVirtual()
      loaded++
    } catch (err) {
      assert.ok(err instanceof Error, `case ${i}: a non-Error was thrown: ${String(err)}`)
      refused++
      continue
    }
    let items: ReturnType<typeof plannedTarballs>
    try {
      const registryFor = (): string => 'http://127.0.0.1:1/'
      items = plannedTarballs(virtual, undefined, { omit: new Set(), registryFor })
      fillRegistryResolved(items, registryFor)
    } catch (err) {
      // npm's own parsers (npm-package-arg behind Arborist's getters) may refuse an entry; a
      // TypeError or RangeError would be a bug of ours
      assert.ok(err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError), `case ${i}: ${String(err)}`)
      refused++
      continue
    }
    for (const { ref } of items) {
      planned++
      for (const field of ['name', 'version', 'integrity'] as const) assert.equal(typeof ref[field], 'string', `case ${i}: ${field} of ${JSON.stringify(ref)}`)
      try {
        hashesOf(ref.integrity)
        rawCidFromIntegrity(ref.integrity)
        assert.equal(matchesIntegrity(Buffer.from('x'), ref.integrity), false)
      } catch (err) {
        assert.fail(`case ${i}: integrity ${JSON.stringify(ref.integrity).slice(0, 200)} threw ${(err as Error).message}`)
      }
    }
  }
  report('lockfile fuzz', `1500 cases (seed ${SEED}): ${loaded} loaded, ${refused} refused by npm's parsers with a clean Error, ${planned} planned refs all well-typed; nothing else escaped`)
})

test(`packuments: 1500 mutated packuments through the shim's packument and tarball routes (seed ${SEED})`, async () => {
  const base = { name: 'alpha', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'alpha', version: '1.0.0', dist: { tarball: 'http://127.0.0.1:1/alpha/-/alpha-1.0.0.tgz', integrity: 'sha512-AAAA', shasum: 'a'.repeat(40), cid: 'bafkqaaa' } } } }
  const statuses = new Map<number, number>()
  for (let i = 0; i < 1500; i++) {
    const doc = structuredClone(base) as unknown
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
      const version = (doc as { versions?: Record<string, unknown> }).versions?.['1.0.0']
      mutate(random() < 0.7 && version !== undefined ? version : doc)
    }
    currentPackument = random() < 0.05 ? JSON.stringify(doc).slice(0, 30) : JSON.stringify(doc)
    const path = random() < 0.5 ? 'alpha' : 'alpha/-/alpha-1.0.0.tgz'
    const res = await fetch(`${shim.url}${path}`, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
      throw new Error(`case ${i}: GET /${path} with packument ${currentPackument.slice(0, 300)}: ${err.message}`)
    })
    await res.arrayBuffer()
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    assert.ok(res.status < 500 || res.status === 502, `case ${i}: ${res.status} for ${path}`)
    if (path.endsWith('.tgz')) assert.notEqual(res.status, 200, `case ${i}: served bytes that match no integrity`)
  }
  for (const [integrity, cid] of hints) {
    assert.equal(typeof integrity, 'string')
    assert.equal(typeof cid, 'string')
  }
  assert.equal((await fetch(`${shim.url}-/ping`, { signal: AbortSignal.timeout(5000) })).status < 600, true, 'still answering')
  report('packument fuzz', `1500 cases: every request answered (${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}), ${hints.length} CID hints all strings`)
})

test(`request paths, integrities and peer CIDs: 5000 random inputs each (seed ${SEED})`, async () => {
  const cache = createTarballCache({ cachePath: join(ws.root, 'fuzz-cache', '_cacache') })
  const alphabet = ['a', '@', '/', '%2f', '%2F', '..', '.', '%2e', '-', '_', '~', '%00', '\\', '%5c', '%', '%E0', 'é', '.tgz', ' ', '?', '#', 'node_modules']
  for (let i = 0; i < 5000; i++) {
    const path = `/${Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(alphabet)).join('')}`
    const route = parseRoute(path)
    if ('name' in route) {
      assert.ok(!route.name.split('/').some((part) => part === '..' || part === '.' || part === ''), `${path} → ${route.name}`)
      assert.ok(!/[\\\0]/.test(route.name), `${path} → ${route.name}`)
    }
    if (route.kind === 'tarball') assert.ok(!route.file.includes('/') && !route.file.startsWith('.'), `${path} → ${route.file}`)
    const integrity = String(hostileValue())
    hashesOf(integrity)
    rawCidFromIntegrity(integrity)
    if (i % 10 === 0) {
      // the cache never throws anything but EINTEGRITY for a malformed integrity, and stores nothing
      assert.equal(await cache.get(integrity), undefined)
      await cache.put({ name: 'x', version: '1.0.0', integrity }, Buffer.from('data')).then(
        () => assert.fail(`stored under ${JSON.stringify(integrity).slice(0, 100)}`),
        (err: NodeJS.ErrnoException) => assert.equal(err.code, 'EINTEGRITY', err.message))
    }
    const claimed = String(hostileValue())
    try {
      CID.parse(claimed)
    } catch (err) {
      assert.ok(err instanceof Error)
    }
  }
  report('route / integrity / CID fuzz', '5000 paths, integrities and CID strings: no traversal in a route, no throw from the integrity code; the cache refused 500 malformed integrities with EINTEGRITY')
})
