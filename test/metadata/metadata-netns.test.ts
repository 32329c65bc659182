/**
 * Installs that need packuments, on a LAN with no registry: two hosts in network namespaces, A
 * running `ipfs-npm serve` over a cache plain npm filled (and publishing its signed index), B with
 * no route to any registry. B runs `ipfs-npm install alpha` in an empty project and `ipfs-npm
 * install` of a project without a lockfile — from A found by mDNS inside a private network (swarm
 * key, nothing else configured), and from A's index named by B — and gets npm's package.json,
 * lockfile and node_modules, as npm writes them with the registry. The registry here does not sign
 * (as this machine's mirror): the swarm key or the index is what makes A's packuments believable.
 */
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createLan, type Lan } from '../helpers/netns.ts'
import { assertOk, assertSameTree, createP2pWork, type P2pWork, type Seeder } from '../helpers/p2p.ts'
import { indexSettled, publishedSequence } from '../helpers/index-settled.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'
import { runCommand } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const SUBNET = 143
let lan: Lan
let registry: TestRegistry
let work: string
let p2p: P2pWork
let userconfig: string
let swarmKey: string
let seedA: Seeder
let index: string
let realConfig: string

/** The npm registry this machine's npm is configured with (never written down: read at run time). */
async function npmRegistry (): Promise<string> {
  const run = await runCommand('npm', ['config', 'get', 'registry'], { cwd: tmpdir() })
  return run.stdout.trim()
}

/** `<work>/<as>/app`: npm writes the directory's name into the lockfile, so every project is `app`. */
async function project (as: string, pkg?: object): Promise<string> {
  const dir = join(work, as, 'app')
  await mkdir(dir, { recursive: true })
  if (pkg !== undefined) await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  return dir
}

const NOLOCK = { name: 'nolock', version: '1.0.0', dependencies: { delta: '^1.0.0' } }

const npm = async (dir: string, args: string[], cache: string): Promise<number> => {
  const run = await runCommand('npm', [...args, '--userconfig', userconfig, '--cache', join(work, cache)], { cwd: dir })
  assertOk(run, `npm ${args.join(' ')}`)
  return run.ms
}

before(async () => {
  lan = await createLan('metadata', SUBNET)
  if (lan.skip !== undefined) return
  registry = await startRegistry({ filter: (name) => !name.startsWith('@') })
  work = await tempDir('metadata-netns')
  userconfig = join(work, 'npmrc')
  // the registry B is told of is the fixture registry's own URL: B's namespace has no route to it
  await writeFile(userconfig, [`registry=${registry.url}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  swarmKey = join(work, 'swarm.key')
  await writeFile(swarmKey, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`)
  p2p = createP2pWork({ work, userconfig })

  // npm's own installs with the registry: the references
  await npm(await project('ref-install'), ['install', 'alpha'], 'cache-ref')
  await npm(await project('ref-nolock', NOLOCK), ['install'], 'cache-ref')

  // host A, while it could reach the registry: plain npm filled its cache, and a serve of it put
  // the packuments its client fetched into A's index
  await npm(await project('a'), ['install', 'alpha', 'delta'], 'cache-a')
  realConfig = join(work, 'real-npmrc')
  await writeFile(realConfig, [`registry=${await npmRegistry()}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  const publisher = await p2p.serve(join(work, 'cache-a'), { extra: ['--index'] })
  const ownIndex = /index \/ipns\/(k51\w+)/.exec(publisher.output)?.[1] ?? ''
  const published = await publishedSequence(join(work, 'cache-a'), ownIndex)
  await npm(await project('a-client', NOLOCK), ['install', 'alpha', '--registry', publisher.url], 'cache-a-client')
  await indexSettled(join(work, 'cache-a'), ownIndex, published)
  await p2p.stop()

  // A on the LAN: serving its cache and its index, inside the private network
  seedA = await p2p.serve(join(work, 'cache-a'), { wrapper: lan.on('a'), listen: '/ip4/0.0.0.0/tcp/0', mdns: true, addressPrefix: `/ip4/10.231.${SUBNET}.`, extra: ['--index', '--swarm-key', swarmKey] })
  index = /index \/ipns\/(k51\w+)/.exec(seedA.output)?.[1] ?? ''
  assert.match(index, /^k51/, seedA.output)
})

after(async () => {
  await p2p?.stop()
  await lan?.remove()
  await registry?.stop()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

/** ipfs-npm on B: no route to the registry (npm's retries of a refused connection off, as with no route at all). */
const onB = (dir: string, args: string[], cache: string) =>
  p2p.ipfsNpm(dir, [...args, '--userconfig', userconfig, '--cache', join(work, cache), '--fetch-retries', '0', '--swarm-key', swarmKey], lan.on('b'))

test('metadata-mdns: with no registry route, B installs from a LAN peer found by mDNS in its private network', async (t) => {
  if (lan.skip !== undefined) return t.skip(lan.skip)
  const dir = await project('b-install')
  const run = await onB(dir, ['install', 'alpha'], 'cache-b')
  assertOk(run, 'ipfs-npm install alpha on B')
  assert.match(run.stdout, /^metadata: 2 from peers \(as of \d{4}-\d\d-\d\d\), 0 from registry$/m)
  await assertSameTree(join(work, 'ref-install', 'app'), dir)

  const nolock = await project('b-nolock', NOLOCK)
  assertOk(await onB(nolock, ['install'], 'cache-b'), 'ipfs-npm install without a lockfile on B')
  await assertSameTree(join(work, 'ref-nolock', 'app'), nolock)

  // the same install, the registry reachable: the time to compare with
  const withRegistry = await p2p.ipfsNpm(await project('root-install'), ['install', 'alpha', '--userconfig', userconfig, '--cache', join(work, 'cache-root'), '--no-mdns'])
  assertOk(withRegistry, 'ipfs-npm install alpha with the registry')
  console.log(`# metadata-mdns: install alpha with no registry route, from the LAN peer: ${run.ms} ms; with the registry reachable: ${withRegistry.ms} ms`)
})

test('metadata-index: with no registry route, B installs from the index of a host it names', async (t) => {
  if (lan.skip !== undefined) return t.skip(lan.skip)
  const dir = await project('b-index')
  const run = await onB(dir, ['install', 'alpha', '--index', index], 'cache-b-index')
  assertOk(run, 'ipfs-npm install alpha --index on B')
  assert.match(run.stdout, /^metadata: 2 from indexes, 0 from registry$/m)
  await assertSameTree(join(work, 'ref-install', 'app'), dir)
  console.log(`# metadata-index: install alpha with no registry route, from A's index: ${run.ms} ms`)
})

/** Plain npm on the root namespace against the npm registry itself; once more if its DNS dropped a lookup. */
async function npmReal (dir: string, args: string[]): Promise<void> {
  let run = await runCommand('npm', [...args, '--userconfig', realConfig, '--cache', join(work, 'cache-a')], { cwd: dir })
  if (run.code !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNRESET/.test(run.stderr)) run = await runCommand('npm', [...args, '--userconfig', realConfig, '--cache', join(work, 'cache-a')], { cwd: dir })
  assertOk(run, `npm ${args.join(' ')}`)
}

test('metadata-express: with no registry route, B installs the real express from the LAN peer, npm\'s tree', async (t) => {
  if (lan.skip !== undefined) return t.skip(lan.skip)
  // A has run plain npm for express and lodash once (A serves its cache as it is at each ask);
  // the first of those installs is the reference
  await npmReal(await project('ref-express'), ['install', 'express'])
  await npmReal(await project('a-lodash'), ['install', 'lodash'])
  const dir = await project('b-express')
  const run = await p2p.ipfsNpm(dir, ['install', 'express', '--userconfig', realConfig, '--cache', join(work, 'cache-b-express'), '--fetch-retries', '0', '--swarm-key', swarmKey], lan.on('b'))
  assertOk(run, 'ipfs-npm install express on B')
  assert.match(run.stdout, /^metadata: \d+ from peers \(as of \d{4}-\d\d-\d\d\), 0 from registry$/m)
  await assertSameTree(join(work, 'ref-express', 'app'), dir)
  const withRegistry = await p2p.ipfsNpm(await project('root-express'), ['install', 'express', '--userconfig', realConfig, '--cache', join(work, 'cache-root-express'), '--no-mdns'])
  assertOk(withRegistry, 'ipfs-npm install express with the registry')
  console.log(`# metadata-express: install express with no registry route, from the LAN peer: ${run.ms} ms (${/^metadata: .*$/m.exec(run.stdout)?.[0]}); with the registry reachable, cold cache: ${withRegistry.ms} ms`)
})
