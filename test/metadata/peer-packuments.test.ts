/**
 * Packuments from peers, end to end over loopback with real processes: a signing registry (it
 * publishes `/-/npm/v1/keys` and signs every version), host A's npm cache filled by plain
 * `npm install`, A running `ipfs-npm serve`; then the registry goes down and B installs from A —
 * npm's package.json, lockfile and node_modules, every version checked against the registry's keys
 * B kept while it could reach the registry. A peer that tampers loses the versions it touched; one
 * with nothing verifiable is refused, by name; a package nobody has is npm's E404.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import cacache from 'cacache'
import { assertOk, assertSameTree, createP2pWork, type P2pWork, type Seeder } from '../helpers/p2p.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'
import { runCommand } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

let registry: TestRegistry
let work: string
let p2p: P2pWork
let userconfig: string
let seedA: Seeder
let cacheB: string
const today = new Date().toISOString().slice(0, 10)

/**
 * An empty project dir (`install <spec>` writes its package.json) or one with `pkg` as package.json;
 * always named `app`, as npm writes the directory's name into a lockfile.
 */
async function project (as: string, pkg?: object): Promise<string> {
  const dir = join(work, as, 'app')
  await mkdir(dir, { recursive: true })
  if (pkg !== undefined) await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  return dir
}

const npm = async (dir: string, args: string[], cache: string): Promise<void> => {
  assertOk(await runCommand('npm', [...args, '--userconfig', userconfig, '--cache', cache], { cwd: dir }), `npm ${args.join(' ')}`)
}

/** Rewrites the packument npm cached for `name` in `cacheDir` (what a tampering peer would hand out). */
async function tamper (cacheDir: string, name: string, edit: (packument: any) => void): Promise<void> {
  const path = join(cacheDir, '_cacache')
  const key = `make-fetch-happen:request-cache:${registry.url}${name}`
  const { data, metadata } = await cacache.get(path, key)
  const packument = JSON.parse(data.toString('utf8'))
  edit(packument)
  await cacache.put(path, key, JSON.stringify(packument), { metadata })
}

before(async () => {
  registry = await startRegistry({ sign: true, filter: (name) => !name.startsWith('@') })
  work = await tempDir('metadata')
  userconfig = join(work, 'npmrc')
  await writeFile(userconfig, [`registry=${registry.url}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  p2p = createP2pWork({ work, userconfig })

  // references: plain npm with the registry up
  await npm(await project('ref-install'), ['install', 'alpha'], join(work, 'cache-ref'))
  await npm(await project('ref-nolock', { name: 'nolock', version: '1.0.0', dependencies: { delta: '^1.0.0' } }), ['install'], join(work, 'cache-ref'))

  // A: plain npm filled its cache once; then it serves it
  const cacheA = join(work, 'cache-a')
  await npm(await project('a'), ['install', 'alpha', 'delta'], cacheA)
  seedA = await p2p.serve(cacheA)

  // B: once ran ipfs-npm with the registry up (and so kept its keys), never installed these packages
  cacheB = join(work, 'cache-b')
  assertOk(await p2p.ipfsNpm(await project('b-before'), ['install', 'gamma@1.0.0', '--userconfig', userconfig, '--cache', cacheB, '--no-mdns']), 'ipfs-npm install gamma')

  // a tampering peer: A's cache with edited packuments
  const cacheT = join(work, 'cache-t')
  await cp(cacheA, cacheT, { recursive: true })
  await tamper(cacheT, 'beta', (packument) => {
    delete packument.versions['1.0.0'].dist.signatures
    packument.versions['1.1.0'].dist.integrity = packument.versions['2.0.0'].dist.integrity
    packument.versions['2.1.0'] = { ...packument.versions['2.0.0'], version: '2.1.0', _id: 'beta@2.1.0' }
    packument['dist-tags'].latest = '2.1.0'
  })
  await tamper(cacheT, 'delta', (packument) => {
    for (const manifest of Object.values(packument.versions) as any[]) delete manifest.dist.signatures
  })
  seedT = await p2p.serve(cacheT)

  await registry.down()
})

let seedT: Seeder

after(async () => {
  await p2p?.stop()
  await registry?.stop()
  await rm(work, { recursive: true, force: true })
})

/** ipfs-npm with the registry down (npm's retries of a refused connection off, as for a host with no route). */
const fromPeer = (dir: string, seed: Seeder, args: string[], cache = cacheB) =>
  p2p.ipfsNpm(dir, [...args, '--userconfig', userconfig, '--cache', cache, '--fetch-retries', '0', '--no-mdns', '--peer', seed.address])

test('registry down: `install alpha` in an empty project gets npm\'s package.json, lockfile and tree from a peer\'s packuments', async () => {
  const dir = await project('b-install')
  const run = await fromPeer(dir, seedA, ['install', 'alpha'])
  assertOk(run, 'ipfs-npm install alpha')
  assert.match(run.stdout, new RegExp(`^metadata: 2 from peers \\(as of ${today}\\), 0 from registry$`, 'm'))
  await assertSameTree(join(work, 'ref-install', 'app'), dir)
  assert.doesNotMatch(await readFile(join(dir, 'package-lock.json'), 'utf8'), /127\.0\.0\.1:(?!\d+\/)|\/p2p\//)
})

test('registry down: `install` of a project without a lockfile resolves from a peer as npm would', async () => {
  const dir = await project('b-nolock', { name: 'nolock', version: '1.0.0', dependencies: { delta: '^1.0.0' } })
  assertOk(await fromPeer(dir, seedA, ['install']), 'ipfs-npm install')
  await assertSameTree(join(work, 'ref-nolock', 'app'), dir)
})

test('a tampering peer: the versions it altered, stripped or added (with a copied signature) are dropped; the signed ones still install', async () => {
  const dir = await project('b-tampered')
  const run = await fromPeer(dir, seedT, ['install', 'alpha', '--loglevel', 'verbose'], join(work, 'cache-b-t'))
  // keys kept by the B cache above: copy them, as the same machine's next run would have them
  assert.equal(run.code, 1, 'without the registry\'s keys, nothing from peers is believed')
  assert.match(run.stderr, /alpha: the registry is unreachable and peers' packuments were refused: peer 12D3Koo\w+ \(no signing keys kept for the registry/)

  await cp(join(cacheB, '_ipfs-npm', 'registry-keys'), join(work, 'cache-b-t', '_ipfs-npm', 'registry-keys'), { recursive: true })
  const signed = await fromPeer(dir, seedT, ['install', 'alpha', '--loglevel', 'verbose'], join(work, 'cache-b-t'))
  assertOk(signed, 'ipfs-npm install alpha from the tampering peer')
  for (const [version, reason] of [['1.0.0', 'unsigned'], ['1.1.0', 'bad signature'], ['2.1.0', 'bad signature']]) {
    assert.match(signed.stderr, new RegExp(`beta@${version.replaceAll('.', '\\.')} from peer \\S+ dropped: ${reason}`))
  }
  await assertSameTree(join(work, 'ref-install', 'app'), dir)
})

test('a packument with nothing verifiable is refused, naming the package and the peer', async () => {
  await cp(join(cacheB, '_ipfs-npm', 'registry-keys'), join(work, 'cache-b-r', '_ipfs-npm', 'registry-keys'), { recursive: true })
  const run = await fromPeer(await project('b-refused'), seedT, ['install', 'delta'], join(work, 'cache-b-r'))
  assert.equal(run.code, 1)
  assert.match(run.stderr, /delta: the registry is unreachable and peers' packuments were refused: peer 12D3Koo\w+ \(no version signed by the registry's keys\)$/m)
})

test('a package no peer has: npm\'s E404, saying the registry is unreachable and no peer had it', async () => {
  const run = await fromPeer(await project('b-missing'), seedA, ['install', 'no-such-package'])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /^npm error code E404$/m)
  assert.match(run.stderr, /^npm error 404 Not Found - GET http:\/\/127\.0\.0\.1:\d+\/no-such-package - the registry is unreachable \(ECONNREFUSED\) and no peer or index had no-such-package$/m)
})
