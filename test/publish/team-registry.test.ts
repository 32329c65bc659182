/**
 * A team's registry with no server (issue 15), on a two-host LAN of network namespaces with no
 * route to any registry. A publishes `@myco/util` to its signed index while `ipfs-npm serve` keeps
 * the index announced; B, naming that index for `@myco` in `.ipfs-npmrc`, installs it, sees the
 * next version in `outdated` and takes it with `update`; installs a tarball by CID that only A
 * has; reads the index with npm, pnpm and bun through its own `ipfs-npm serve`; and cannot publish
 * to an index whose key it does not hold. Last, A's pinned tarball outlives `npm cache clean`.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha512 } from 'multiformats/hashes/sha2'
import { installWith } from '../helpers/clients.ts'
import { ipfsNpmBin } from '../helpers/conformance.ts'
import { createLan, type Lan } from '../helpers/netns.ts'
import { assertOk, createP2pWork, type P2pWork } from '../helpers/p2p.ts'
import { runCommand, type CommandResult } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

let lan: Lan
let work: string
let p2p: P2pWork
let userconfig: string

before(async () => {
  lan = await createLan('team', 215, 'publish')
  work = await tempDir('publish')
  userconfig = join(work, 'npmrc')
  // TEST-NET-1: no namespace has a route to it, so every registry request fails at once
  await writeFile(userconfig, 'registry=http://192.0.2.1/\nfetch-retries=0\naudit=false\nfund=false\nupdate-notifier=false\n')
  p2p = createP2pWork({ work, userconfig })
})

after(async () => {
  await p2p.stop()
  await lan.remove()
  await rm(work, { recursive: true, force: true })
})

type Host = 'a' | 'b'

/** Runs ipfs-npm on `host` in `cwd` with that host's cache (or `cache`) and an empty home. */
async function ipfsNpm (host: Host, cwd: string, args: string[], cache = join(work, `cache-${host}`)): Promise<CommandResult> {
  // a loaded CI host may take seconds to find the other by mDNS
  const [command, ...rest] = [...lan.on(host), process.execPath, ipfsNpmBin, ...args, '--userconfig', userconfig, '--cache', cache, '--peer-timeout', '5000']
  return runCommand(command, rest, { cwd, env: { HOME: join(work, `home-${host}`) } })
}

/** Runs any program on `host`. */
async function on (host: Host, cwd: string, command: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  const [first, ...rest] = [...lan.on(host), ...command]
  return runCommand(first, rest, { cwd, env: { HOME: join(work, `home-${host}`), ...env } })
}

async function writeJson (file: string, value: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`)
}

const readJson = async <T = Record<string, any>>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T

/** A new project directory. */
async function project (name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name)
  await mkdir(dir, { recursive: true })
  await writeJson(join(dir, 'package.json'), pkg)
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
  return dir
}

const installedVersion = async (dir: string): Promise<string> => (await readJson(join(dir, 'node_modules/@myco/util/package.json'))).version

/** Polls `check` until it holds (a serve reacting to a publish in another process), or fails with its last answer. */
async function eventually (what: string, check: () => Promise<string | true>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  let last: string | true = 'never checked'
  while (Date.now() < end) {
    last = await check()
    if (last === true) return
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  assert.fail(`${what}: ${last}`)
}

test('a team registry with no server: publish, install, outdated, update, by CID, through serve, and no key no publish', async (t) => {
  if (lan.skip !== undefined) {
    console.log(`# skipped: ${lan.skip}`)
    t.skip(lan.skip)
    return
  }
  const lanAddress = '/ip4/10.231.215.'
  // A: the package, and a serve on A's cache that keeps A's index announced between publishes
  const util = await project('util', { name: '@myco/util', version: '1.0.0', main: 'index.js' }, { 'index.js': 'module.exports = 1\n' })
  const seederA = await p2p.serve(join(work, 'cache-a'), { wrapper: lan.on('a'), listen: '/ip4/0.0.0.0/tcp/0', mdns: true, addressPrefix: lanAddress, env: { HOME: join(work, 'home-a') } })
  assert.ok(seederA.address.startsWith(lanAddress))

  const first = await ipfsNpm('a', util, ['publish', '--index'])
  assertOk(first, 'A: ipfs-npm publish --index')
  console.log(`# A publishes 1.0.0:\n${first.stdout.trim().replace(/^/gm, '#   ')}`)
  assert.match(first.stdout, /^\+ @myco\/util@1\.0\.0$/m)
  const index = /^index: (\/ipns\/k51\w+)$/m.exec(first.stdout)?.[1]
  assert.ok(index, first.stdout)
  assert.match(first.stdout, /^cid: bafk\w+$/m)

  await eventually('A\'s serve lists the index in /-/ipfs-npm/info', async () => {
    const info = await on('a', work, [process.execPath, '-e', `fetch(${JSON.stringify(`${seederA.url}-/ipfs-npm/info`)}).then((r) => r.text()).then(console.log)`])
    return info.stdout.includes(index) || info.stdout + info.stderr
  })

  // B: a project that names the index for its scope, and no registry
  const app = await project('app', { name: 'app', version: '1.0.0' }, { '.ipfs-npmrc': `@myco:index = ${index}\n` })
  const installed = await ipfsNpm('b', app, ['install', '@myco/util'])
  assertOk(installed, 'B: ipfs-npm install @myco/util')
  console.log(`# B installs from the index: ${installed.stdout.trim().split('\n').join(' / ')}`)
  assert.equal((await readJson(join(app, 'package.json'))).dependencies['@myco/util'], '^1.0.0')
  assert.equal(await installedVersion(app), '1.0.0')
  const entry = (await readJson(join(app, 'package-lock.json'))).packages['node_modules/@myco/util']
  assert.equal(entry.version, '1.0.0')
  assert.match(entry.integrity, /^sha512-/)
  assert.doesNotMatch(JSON.stringify(entry), /127\.0\.0\.1|localhost/)

  // A publishes 1.1.0; B's outdated shows it, update installs it
  await writeJson(join(util, 'package.json'), { name: '@myco/util', version: '1.1.0', main: 'index.js' })
  const second = await ipfsNpm('a', util, ['publish', '--index'])
  assertOk(second, 'A: ipfs-npm publish --index 1.1.0')
  const cid = /^cid: (bafk\w+)$/m.exec(second.stdout)?.[1]
  assert.ok(cid, second.stdout)
  const again = await ipfsNpm('a', util, ['publish', '--index'])
  assert.notEqual(again.code, 0)
  assert.match(again.stderr, /npm error code EPUBLISHCONFLICT/)

  const outdated = await ipfsNpm('b', app, ['outdated'])
  console.log(`# B: ipfs-npm outdated (exit ${outdated.code}):\n${outdated.stdout.trim().replace(/^/gm, '#   ')}`)
  assert.equal(outdated.code, 1, outdated.stdout + outdated.stderr)
  assert.match(outdated.stdout, /@myco\/util\s+1\.0\.0\s+1\.1\.0\s+1\.1\.0/)
  const updated = await ipfsNpm('b', app, ['update'])
  assertOk(updated, 'B: ipfs-npm update')
  assert.equal(await installedVersion(app), '1.1.0')
  assert.equal((await readJson(join(app, 'package-lock.json'))).packages['node_modules/@myco/util'].version, '1.1.0')

  // B installs by CID a tarball only a peer has: no index, an empty cache
  const byCid = await project('by-cid', { name: 'by-cid', version: '1.0.0' })
  const fromPeer = await ipfsNpm('b', byCid, ['install', `ipfs://${cid}`], join(work, 'cache-b-cid'))
  assertOk(fromPeer, 'B: ipfs-npm install ipfs://<cid>')
  assert.equal((await readJson(join(byCid, 'package.json'))).dependencies['@myco/util'], '1.1.0')
  assert.equal(await installedVersion(byCid), '1.1.0')
  const lockEntry = (await readJson(join(byCid, 'package-lock.json'))).packages['node_modules/@myco/util']
  assert.match(lockEntry.integrity, /^sha512-/)
  // bad CIDs: one npm-shaped error, non-zero exit, the project untouched
  const before = await readFile(join(byCid, 'package.json'), 'utf8')
  for (const [spec, code] of [
    ['bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'EUNSUPPORTEDCID'],
    [CID.createV1(raw.code, Digest.create(sha512.code, createHash('sha512').update('nobody has this').digest())).toString(), 'E404'],
    ['ipfs://bafyfoo', 'EINVALIDCID'],
  ]) {
    const bad = await ipfsNpm('b', byCid, ['install', spec], join(work, 'cache-b-cid'))
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, new RegExp(`^npm error code (${code})$`, 'm'), bad.stderr)
    assert.equal(await readFile(join(byCid, 'package.json'), 'utf8'), before)
  }

  // npm, pnpm and bun read the index through B's serve
  const serveDir = await project('serve-b', { name: 'serve-b', version: '1.0.0', private: true }, { '.ipfs-npmrc': `@myco:index = ${index}\n` })
  const seederB = await p2p.serve(join(work, 'cache-b-serve'), { wrapper: lan.on('b'), listen: '/ip4/0.0.0.0/tcp/0', mdns: true, addressPrefix: lanAddress, cwd: serveDir, env: { HOME: join(work, 'home-b') } })
  for (const client of ['npm', 'pnpm', 'bun'] as const) {
    const dir = await project(`client-${client}`, { name: `client-${client}`, version: '1.0.0', dependencies: { '@myco/util': '^1.1.0' } })
    const run = await installWith({
      client,
      cwd: dir,
      registry: seederB.url,
      state: join(work, `state-${client}`),
      // npm fetches a tarball from the URL its packument names unless told to take every one from its registry
      npmrc: client === 'npm' ? ['replace-registry-host=always'] : [],
      wrapper: lan.on('b'),
    })
    assertOk(run, `${client} install through ipfs-npm serve`)
    assert.equal(await installedVersion(dir), '1.1.0', client)
  }

  // B does not hold the index's key: its publish is refused, and the index stays A's
  const forged = join(work, 'util-b')
  await cp(util, forged, { recursive: true })
  await writeJson(join(forged, 'package.json'), { name: '@myco/util', version: '9.9.9', main: 'index.js' })
  const refused = await ipfsNpm('b', forged, ['publish', '--index', index])
  assert.notEqual(refused.code, 0)
  assert.match(refused.stderr, /^npm error code EINDEXKEY$/m)
  const view = await ipfsNpm('b', app, ['view', '@myco/util', 'version'])
  assertOk(view, 'B: ipfs-npm view @myco/util version')
  assert.equal(view.stdout.trim(), '1.1.0')

  // A pins 1.1.0; after npm cache clean on A, its serve puts the tarball back and B still gets it
  assertOk(await ipfsNpm('a', util, ['pin', cid]), 'A: ipfs-npm pin <cid>')
  assertOk(await on('a', util, ['npm', 'cache', 'clean', '--force', '--cache', join(work, 'cache-a')]), 'A: npm cache clean --force')
  const afterClean = await project('after-clean', { name: 'after-clean', version: '1.0.0' })
  await eventually('B installs the pinned tarball after A cleaned its cache', async () => {
    const run = await ipfsNpm('b', afterClean, ['install', cid], join(work, 'cache-b-after-clean'))
    return run.code === 0 || run.stderr
  })
  assert.equal(await installedVersion(afterClean), '1.1.0')
})
