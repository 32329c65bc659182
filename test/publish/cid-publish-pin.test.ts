/**
 * Publish to IPFS, install by CID and pin (issue 15), on loopback with real processes: A publishes
 * with npm's own publish to a real registry and gets the tarball's CID; B, whose registry does not
 * answer, installs those exact bytes from A by CID and gets only what plain npm reads; bad CIDs fail
 * in one npm-shaped error leaving the project as it was; a pinned tarball outlives `npm cache clean`
 * on A while A's serve runs; `publish --index` prints its three lines, refuses a version twice and
 * an index whose key is elsewhere, and A's serve lists the index.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import cacache from 'cacache'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha512 } from 'multiformats/hashes/sha2'
import { ipfsNpmBin } from '../helpers/conformance.ts'
import { assertOk, createP2pWork, type P2pWork, type Seeder } from '../helpers/p2p.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'
import { runCommand, type CommandResult } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

let work: string
let registry: TestRegistry
let p2p: P2pWork
let seeder: Seeder
/** Points at the test registry, with a token for it. */
let liveRc: string
/** Points at a registry that refuses every connection. */
let deadRc: string
let util: string
let cid: string
/** Bytes under @myco/util@1.0.0 other than the published ones, and gzip that is no tarball: both in serve's cache. */
let otherBytes: Buffer
const junk = gzipSync('not a tarball')
const cacheA = (): string => join(work, 'cache-a')

const rawCid = (bytes: Uint8Array): string => CID.createV1(raw.code, Digest.create(sha512.code, createHash('sha512').update(bytes).digest())).toString()

function ipfsNpm (cwd: string, args: string[]): Promise<CommandResult> {
  return runCommand(process.execPath, [ipfsNpmBin, ...args], { cwd, env: { HOME: join(work, 'home') } })
}

async function project (name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
  return dir
}

const readJson = async (file: string): Promise<Record<string, any>> => JSON.parse(await readFile(file, 'utf8')) as Record<string, any>

before(async () => {
  work = await tempDir('publish-cid')
  registry = await startRegistry({ packages: [] })
  const extras = 'fetch-retries=0\naudit=false\nfund=false\nupdate-notifier=false\n'
  liveRc = join(work, 'live-npmrc')
  await writeFile(liveRc, `registry=${registry.url}\n//${registry.host}/:_authToken=publish-test\n${extras}`)
  deadRc = join(work, 'dead-npmrc')
  await writeFile(deadRc, `registry=http://127.0.0.1:9/\n${extras}`)
  p2p = createP2pWork({ work, userconfig: deadRc })
  util = await project('util', { name: '@myco/util', version: '1.0.0', main: 'index.js' }, { 'index.js': 'module.exports = 1\n' })
})

after(async () => {
  await p2p.stop()
  await registry.stop()
  await rm(work, { recursive: true, force: true })
})

test('publish is npm\'s publish, then the CID of the tarball npm published', async () => {
  const published = await ipfsNpm(util, ['publish', '--userconfig', liveRc, '--cache', cacheA()])
  assertOk(published, 'ipfs-npm publish')
  assert.match(published.stdout, /^\+ @myco\/util@1\.0\.0$/m)
  cid = /^cid: (bafk\w+)$/m.exec(published.stdout)?.[1] ?? ''
  const put = registry.requests.find((request) => request.method === 'PUT')
  assert.ok(put, 'the registry got the publish')
  const body = JSON.parse(put.body.toString('utf8')) as { _attachments: Record<string, { data: string }> }
  const tarball = Buffer.from(Object.values(body._attachments)[0].data, 'base64')
  assert.equal(cid, rawCid(tarball), 'the CID is the raw CID of the bytes the registry got')
  // the wrong bytes a later test asks for go into the cache before serve starts: serve judges what
  // another process adds to its cache only on its next re-read, and a peer asking before then is told no
  const other = await project('util-other', { name: '@myco/util', version: '1.0.0' }, { 'index.js': 'module.exports = 2\n' })
  const packed = await runCommand('npm', ['pack', '--silent', '--pack-destination', work], { cwd: other })
  assertOk(packed, 'npm pack')
  otherBytes = await readFile(join(work, packed.stdout.trim()))
  // filed as npm files what it fetched from a public registry: serve shares nothing else outside a swarm
  for (const bytes of [otherBytes, junk]) {
    await cacache.put(join(cacheA(), '_cacache'), `make-fetch-happen:request-cache:https://registry.invalid/test/${rawCid(bytes)}`, bytes, { algorithms: ['sha512'] })
  }
  seeder = await p2p.serve(cacheA())
})

test('install by CID from a peer, with the registry unreachable: only what plain npm reads is written', async () => {
  const app = await project('app', { name: 'app', version: '1.0.0' })
  const run = await ipfsNpm(app, ['install', `ipfs://${cid}`, '--userconfig', deadRc, '--cache', join(work, 'cache-b'), '--peer', seeder.address, '--no-mdns'])
  assertOk(run, 'ipfs-npm install ipfs://<cid>')
  assert.match(run.stdout, /^0 from cache, 1 from peers\b.*, 0 from registry$/m)
  assert.equal((await readJson(join(app, 'package.json'))).dependencies['@myco/util'], '1.0.0')
  const entry = (await readJson(join(app, 'package-lock.json'))).packages['node_modules/@myco/util']
  const [, digest] = /^sha512-(.+)$/.exec(entry.integrity) ?? []
  assert.equal(CID.createV1(raw.code, Digest.create(sha512.code, Buffer.from(digest, 'base64'))).toString(), cid, 'the lockfile\'s integrity is the CID\'s digest')
  assert.doesNotMatch(JSON.stringify(entry), /ipfs:|127\.0\.0\.1:\d{3,}/)
  assert.equal((await readJson(join(app, 'node_modules/@myco/util/package.json'))).version, '1.0.0')

  // the same bytes under a registry that has them: fine; other bytes under that name@version: refused
  const alias = await project('alias', { name: 'alias', version: '1.0.0' })
  assertOk(await ipfsNpm(alias, ['install', `u@${cid}`, '--userconfig', liveRc, '--cache', join(work, 'cache-c'), '--peer', seeder.address, '--no-mdns']), 'install u@<cid>')
  assert.equal((await readJson(join(alias, 'package.json'))).dependencies.u, 'npm:@myco/util@1.0.0')
})

test('a CID of other bytes than the registry\'s, of no tarball, of another codec, or that nobody has: one error, project untouched', async () => {
  const app = await project('bad', { name: 'bad', version: '1.0.0' })
  const before = await readFile(join(app, 'package.json'), 'utf8')
  for (const [spec, code] of [
    [rawCid(otherBytes), 'EINTEGRITY'],
    [`ipfs://${rawCid(junk)}`, 'EBADTARBALL'],
    ['bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'EUNSUPPORTEDCID'],
    [rawCid(Buffer.from('nobody has this')), 'E404'],
    ['ipfs://bafyfoo', 'EINVALIDCID'],
  ]) {
    const run = await ipfsNpm(app, ['install', spec, '--userconfig', liveRc, '--cache', join(work, 'cache-d'), '--peer', seeder.address, '--no-mdns', '--peer-timeout', '3000'])
    assert.notEqual(run.code, 0, spec)
    assert.match(run.stderr, new RegExp(`^npm error code ${code}$`, 'm'), `${spec}: ${run.stderr}`)
    assert.equal(await readFile(join(app, 'package.json'), 'utf8'), before)
    await assert.rejects(readFile(join(app, 'package-lock.json')), { code: 'ENOENT' })
  }
})

test('a pinned tarball outlives npm cache clean while serve runs', async () => {
  const pinned = await ipfsNpm(util, ['pin', cid, '--userconfig', deadRc, '--cache', cacheA(), '--no-mdns'])
  assertOk(pinned, 'ipfs-npm pin <cid>')
  assert.match(pinned.stdout, new RegExp(`^pinned @myco/util@1\\.0\\.0 ${cid}$`, 'm'))
  assert.match((await ipfsNpm(util, ['pin', 'ls', '--cache', cacheA()])).stdout, new RegExp(cid))
  assertOk(await runCommand('npm', ['cache', 'clean', '--force', '--cache', cacheA()], { cwd: util }), 'npm cache clean --force')
  const app = await project('after-clean', { name: 'after-clean', version: '1.0.0' })
  let run: CommandResult | undefined
  for (let attempt = 0; attempt < 20 && run?.code !== 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500))
    run = await ipfsNpm(app, ['install', cid, '--userconfig', deadRc, '--cache', join(work, `cache-e${attempt}`), '--peer', seeder.address, '--no-mdns', '--peer-timeout', '3000'])
  }
  assertOk(run!, 'install by CID after A cleaned its cache')
})

test('publish --index: three lines, a version once, only with the index\'s key; a large one by its UnixFS root; serve lists the index', async () => {
  await writeFile(join(util, 'package.json'), `${JSON.stringify({ name: '@myco/util', version: '1.1.0', main: 'index.js' })}\n`)
  const published = await ipfsNpm(util, ['publish', '--index', '--userconfig', deadRc, '--cache', cacheA(), '--no-mdns'])
  assertOk(published, 'ipfs-npm publish --index')
  assert.match(published.stdout, /^\+ @myco\/util@1\.1\.0\ncid: bafk\w+\nindex: \/ipns\/k51\w+$/m)
  assert.match(published.stderr, /npm notice 📦 {2}@myco\/util@1\.1\.0/)
  const index = /^index: (\S+)$/m.exec(published.stdout)![1]

  const again = await ipfsNpm(util, ['publish', '--index', '--userconfig', deadRc, '--cache', cacheA(), '--no-mdns'])
  assert.notEqual(again.code, 0)
  assert.match(again.stderr, /^npm error code EPUBLISHCONFLICT$/m)

  const elsewhere = await ipfsNpm(util, ['publish', '--index', index, '--userconfig', deadRc, '--cache', join(work, 'cache-other-key'), '--no-mdns'])
  assert.notEqual(elsewhere.code, 0)
  assert.match(elsewhere.stderr, /^npm error code EINDEXKEY$/m)

  // a tarball over 1 MiB is a UnixFS file: its root is the CID printed, and installs by it
  const big = await project('big', { name: '@myco/big', version: '1.0.0' }, { 'blob.txt': randomBytes(1_600_000).toString('base64') })
  const dryRun = await ipfsNpm(work, ['publish', big, '--index', '--dry-run', '--userconfig', deadRc, '--cache', cacheA(), '--no-mdns'])
  assertOk(dryRun, 'ipfs-npm publish <dir> --index --dry-run')
  const bigPublished = await ipfsNpm(big, ['publish', '--index', '--userconfig', deadRc, '--cache', cacheA(), '--no-mdns'])
  assertOk(bigPublished, 'ipfs-npm publish --index of a large package')
  const root = /^cid: (bafy\w+)$/m.exec(bigPublished.stdout)?.[1]
  assert.ok(root, bigPublished.stdout)
  assert.equal(/^cid: (\S+)$/m.exec(dryRun.stdout)?.[1], root, 'the dry run names the CID the publish makes')
  const bigApp = await project('big-app', { name: 'big-app', version: '1.0.0' })
  const fromRoot = await ipfsNpm(bigApp, ['install', root, '--userconfig', deadRc, '--cache', join(work, 'cache-big'), '--peer', seeder.address, '--no-mdns', '--peer-timeout', '3000'])
  assertOk(fromRoot, 'install <UnixFS root CID>')
  assert.equal(await readFile(join(bigApp, 'node_modules/@myco/big/blob.txt'), 'utf8'), await readFile(join(big, 'blob.txt'), 'utf8'))

  let listed = ''
  for (let attempt = 0; attempt < 30 && !listed.includes(index); attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 300))
    listed = await (await fetch(`${seeder.url}-/ipfs-npm/info`)).text()
  }
  assert.ok(listed.includes(index), listed)
})

test('view with no index and no registry goes through the shim, and its error names the user\'s registry', async () => {
  const dir = await project('view-dead', { name: 'view-dead', version: '1.0.0' })
  const run = await ipfsNpm(dir, ['view', '@myco/util', 'version', '--userconfig', deadRc, '--cache', join(work, 'cache-view'), '--no-mdns'])
  assert.notEqual(run.code, 0)
  // npm alone would say ECONNREFUSED; through the shim, peers and indexes were asked too
  assert.match(run.stderr, /^npm error 404 Not Found - GET http:\/\/127\.0\.0\.1:9\/@myco%2futil - the registry is unreachable/m)
  const live = await ipfsNpm(dir, ['view', '@myco/util', 'version', '--userconfig', liveRc, '--cache', join(work, 'cache-view')])
  assertOk(live, 'view with the registry up: npm\'s own')
  assert.equal(live.stdout.trim(), '1.0.0')
})
