/**
 * A signed index, end to end over loopback with real processes and a registry that does not sign
 * (as this machine's mirror): `ipfs-npm serve --index` publishes what it serves to its own index;
 * with the registry gone, B — which does not trust peers — installs from that index by name and
 * gets npm's tree; serve `--index-only` answers plain npm from the index alone; an index nobody
 * publishes is a one-line error.
 */
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { assertOk, assertSameTree, createP2pWork, type P2pWork, type Seeder } from '../helpers/p2p.ts'
import { indexSettled, publishedSequence } from '../helpers/index-settled.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'
import { runCommand } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

let registry: TestRegistry
let work: string
let p2p: P2pWork
let userconfig: string
let seedA: Seeder & { index: string }

async function project (as: string): Promise<string> {
  const dir = join(work, as, 'app')
  await mkdir(dir, { recursive: true })
  return dir
}

before(async () => {
  registry = await startRegistry({ filter: (name) => !name.startsWith('@') })
  work = await tempDir('index-install')
  userconfig = join(work, 'npmrc')
  await writeFile(userconfig, [`registry=${registry.url}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
  p2p = createP2pWork({ work, userconfig })
  assertOk(await runCommand('npm', ['install', 'alpha', '--userconfig', userconfig, '--cache', join(work, 'cache-ref')], { cwd: await project('ref') }), 'npm install alpha')

  // A's npm cache holds the tarballs (plain npm filled it); A serves it, publishing to its own
  // index the packuments a client fetches through it
  assertOk(await runCommand('npm', ['install', 'alpha', '--userconfig', userconfig, '--cache', join(work, 'cache-a')], { cwd: await project('a') }), 'npm install alpha on A')
  const seed = await p2p.serve(join(work, 'cache-a'), { extra: ['--index'] })
  const index = /publishing the packuments it serves to index \/ipns\/(k51\w+)/.exec(seed.output)?.[1]
  assert.ok(index, seed.output)
  seedA = { ...seed, index }
  const before = await publishedSequence(join(work, 'cache-a'), index)
  assertOk(await runCommand('npm', ['install', 'alpha', '--userconfig', userconfig, '--registry', seed.url, '--cache', join(work, 'cache-client')], { cwd: await project('client') }), 'npm install through serve')
  const info = async (): Promise<{ indexes: string[] }> => await (await fetch(`${seed.url}-/ipfs-npm/info`)).json() as { indexes: string[] }
  assert.deepEqual((await info()).indexes, [`/ipns/${index}`])
  // serve re-publishes a moment after the last packument it served
  await indexSettled(join(work, 'cache-a'), index, before)
  await registry.down()
})

after(async () => {
  await p2p?.stop()
  await registry?.stop()
  await rm(work, { recursive: true, force: true })
})

const install = (dir: string, args: string[], cache: string) =>
  p2p.ipfsNpm(dir, ['install', ...args, '--userconfig', userconfig, '--cache', join(work, cache), '--fetch-retries', '0', '--no-mdns', '--peer', seedA.address])

test('registry down, a registry that does not sign: peers believed only with --trust-peers; `install alpha --index <A\'s index>` installs npm\'s tree from the index', async () => {
  const untrusted = await install(await project('b-peers'), ['alpha'], 'cache-b-peers')
  assert.equal(untrusted.code, 1, 'a registry that does not sign: peers alone are not believed')
  assert.match(untrusted.stderr, /no signing keys kept for the registry: trust peers with a swarm key or --trust-peers, or use a signed index/)
  const trusting = await install(await project('b-trusting'), ['alpha', '--trust-peers'], 'cache-b-peers')
  assertOk(trusting, 'ipfs-npm install alpha --trust-peers')
  assert.match(trusting.stdout, /^metadata: 2 from peers \(as of \d{4}-\d\d-\d\d\), 0 from registry$/m)

  const dir = await project('b-index')
  const run = await install(dir, ['alpha', '--index', seedA.index], 'cache-b')
  assertOk(run, 'ipfs-npm install alpha --index')
  assert.match(run.stdout, /^metadata: 2 from indexes, 0 from registry$/m)
  await assertSameTree(join(work, 'ref', 'app'), dir)
})

test('an index nobody publishes: a one-line error naming it', async () => {
  const other = 'k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8'
  const run = await install(await project('b-unknown'), ['alpha', '--index', other], 'cache-b-unknown')
  assert.equal(run.code, 1)
  assert.match(run.stderr, new RegExp(`index ${other}: no peer has its record$`, 'm'))
})

test('serve --index <name> --index-only: plain npm installs through it from the index alone, the registry gone', async () => {
  const seedC = await p2p.serve(join(work, 'cache-c'), { extra: ['--index', seedA.index, '--index-only', '--peer', seedA.address] })
  const dir = await project('npm-via-index')
  // npm fetches tarballs from the packument's URLs: `always` sends them to serve's registry too
  const run = await runCommand('npm', ['install', 'alpha', '--userconfig', userconfig, '--registry', seedC.url, '--replace-registry-host', 'always', '--cache', join(work, 'cache-npm-via-index'), '--fetch-retries', '0'], { cwd: dir })
  assertOk(run, 'npm install alpha through serve --index-only')
  const missing = await runCommand('npm', ['view', 'gamma', 'version', '--userconfig', userconfig, '--registry', seedC.url, '--cache', join(work, 'cache-npm-via-index'), '--fetch-retries', '0'], { cwd: dir })
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /gamma is in none of the trusted indexes \(--index-only\)/)
})
