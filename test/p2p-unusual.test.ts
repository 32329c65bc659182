/**
 * A tarball our extractor leaves to pacote (a global pax header: old node-tar packed whole
 * registries of these) installed from a peer with the registry dead: pacote must take the bytes
 * the peer sent, which are in the cache, not go back to the registry for them.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { crafted, leftToPacote } from './extract/crafted.ts'
import { parseOrigins } from './helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { assertOk, assertSameTree, createP2pWork, type P2pWork, writeDeadUserconfig } from './helpers/p2p.ts'
import { runCommand } from './helpers/run-command.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

const DEAD = 'http://127.0.0.1:9/'
let registries: FixtureRegistries
let work: string
let p2p: P2pWork

before(async () => {
  registries = await startFixtureRegistries({ packages: crafted })
  work = await tempDir('p2p-unusual')
  p2p = createP2pWork({ work, userconfig: join(work, 'live-npmrc') })
  await registries.writeUserconfig(join(work, 'live-npmrc'))
})

after(async () => {
  await p2p.stop()
  await registries.stop()
  await removeDir(work)
})

/** A project needing `deps`, its lockfile written by npm with `resolved` URLs on the dead registry. */
async function project (as: string, deps: string[]): Promise<string> {
  const dir = join(work, as)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name: 'unusual', version: '1.0.0', dependencies: Object.fromEntries(deps.map((dep) => [dep, '1.0.0'])) }, null, 2)}\n`)
  assertOk(await runCommand('npm', ['install', '--package-lock-only', '--ignore-scripts', '--userconfig', join(work, 'live-npmrc'), '--cache', join(work, 'lock-cache')], { cwd: dir }), 'npm install --package-lock-only')
  const lock = join(dir, 'package-lock.json')
  await writeFile(lock, (await readFile(lock, 'utf8')).replaceAll(registries.main.url, DEAD))
  return dir
}

test('registry dead: a tarball left to pacote installs from the peer\'s bytes, npm\'s tree', async () => {
  const deps = ['x-global-pax', 'x-dupes']
  assert.ok(leftToPacote.includes(deps[0]))
  // A's cache filled by plain npm, from the live registry
  const reference = await project('npm-reference', deps)
  await writeFile(join(reference, 'package-lock.json'), (await readFile(join(reference, 'package-lock.json'), 'utf8')).replaceAll(DEAD, registries.main.url))
  assertOk(await runCommand('npm', ['ci', '--userconfig', join(work, 'live-npmrc'), '--cache', join(work, 'cache-a')], { cwd: reference }), 'npm ci')
  const seeder = await p2p.serve(join(work, 'cache-a'))

  const dir = await project('from-peer', deps)
  const deadConfig = join(work, 'dead-npmrc')
  await writeDeadUserconfig(deadConfig)
  const run = await p2p.ipfsNpm(dir, ['ci', '--userconfig', deadConfig, '--cache', join(work, 'cache-b'), '--no-mdns', '--peer', seeder.address])
  assertOk(run, 'ipfs-npm ci from the peer')
  const origins = parseOrigins(run)
  assert.ok(origins && origins.peers === deps.length && origins.registry === 0, run.stdout)
  // the lockfiles name the registry each install was given
  for (const lock of ['package-lock.json', 'node_modules/.package-lock.json']) await writeFile(join(dir, lock), (await readFile(join(dir, lock), 'utf8')).replaceAll(DEAD, registries.main.url))
  await assertSameTree(reference, dir)
})
