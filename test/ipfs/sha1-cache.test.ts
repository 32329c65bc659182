/**
 * sha1-only lock entries against a cache filled by plain `npm ci`: npm 11 stores such a tarball
 * under sha512 only, so the seeder finds it through the package name and version the asker sends
 * (pacote / make-fetch-happen index entries), checks it against the sha1 itself, and answers its
 * sha512 CID — raw for a small tarball, a UnixFS root for one over 1 MiB, scoped names included.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import cacache from 'cacache'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { matchesIntegrity } from '../../src/integrity.ts'
import type { IpfsNode } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { fixtureProjectsDir } from '../helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { runCleanup, startNode, tempDir, waitForPeers } from './helpers.ts'

const run = promisify(execFile)
const cleanup: Array<() => Promise<void>> = []
let registries: FixtureRegistries
let dir: string
let cacheA: string
let a: IpfsNode
/** The sha1-only lock entries npm installed, with their tarballs. */
const old = new Map<string, { ref: TarballRef, tarball: Buffer }>()

/** Installs fixture project `name` with plain npm into cacheA, the lock entries `sha1` sha1-only. */
async function npmCiWithSha1 (name: string, sha1: string[]): Promise<void> {
  const project = join(dir, name)
  await cp(join(fixtureProjectsDir, name), project, { recursive: true })
  const path = join(project, 'package-lock.json')
  const lock = JSON.parse(await readFile(path, 'utf8')) as { packages: Record<string, { version: string, integrity?: string }> }
  for (const pkg of sha1) {
    const entry = lock.packages[`node_modules/${pkg}`]!
    const packed = (registries.main.packages.get(`${pkg}@${entry.version}`) ?? registries.scoped.packages.get(`${pkg}@${entry.version}`))!
    entry.integrity = `sha1-${Buffer.from(packed.shasum, 'hex').toString('base64')}`
    old.set(pkg, { ref: { name: pkg, version: entry.version, integrity: entry.integrity }, tarball: packed.tarball })
  }
  await writeFile(path, JSON.stringify(lock, null, 2))
  const userconfig = join(dir, 'npmrc')
  await registries.writeUserconfig(userconfig)
  await run('npm', ['ci', '--userconfig', userconfig, '--cache', cacheA, '--ignore-scripts'], { cwd: project })
}

before(async () => {
  registries = await startFixtureRegistries()
  cleanup.push(async () => registries.stop())
  dir = await tempDir(cleanup)
  cacheA = join(dir, 'cache-a')
  await npmCiWithSha1('bundled', ['big', 'old-thing'])
  await npmCiWithSha1('scoped', ['@fix/scoped-a'])
  a = await startNode(cleanup, cacheA)
})
after(async () => runCleanup(cleanup))

async function peerOfA (name: string): Promise<IpfsNode> {
  const node = await startNode(cleanup, join(dir, name), { peers: [a.info().addresses[0]!] })
  await waitForPeers(node, 1)
  return node
}

test('plain npm cached the sha1-only entries under sha512 only (what the seeder must cope with)', async () => {
  for (const { ref, tarball } of old.values()) {
    assert.equal(await cacache.get.hasContent(join(cacheA, '_cacache'), ref.integrity), false, `${ref.name} not under its sha1`)
    assert.ok(matchesIntegrity(tarball, ref.integrity))
  }
  assert.ok(old.get('big')!.tarball.byteLength > 1024 * 1024, 'big is over 1 MiB')
})

test('a peer fetches sha1-only entries from that cache by name@version: raw, DAG and scoped', async () => {
  const b = await peerOfA('cache-b')
  const refs = [...old.values()].map(({ ref }) => ref)
  const results = await Promise.all(refs.map(async (ref) => b.peers.fetch(ref)))
  refs.forEach((ref, i) => {
    assert.ok(results[i] !== undefined && Buffer.from(results[i]).equals(old.get(ref.name)!.tarball), `${ref.name} fetched`)
  })
  // A remembered the checked mapping under the sha1; the big one is a UnixFS root
  const index = createCidIndex(join(cacheA, '_ipfs-npm', 'cids'))
  assert.equal((await index.get(old.get('big')!.ref.integrity))?.code, 0x70)
  assert.equal((await index.get(old.get('old-thing')!.ref.integrity))?.code, 0x55)
})

test('the seeder checks what it found by name: a package name does not vouch for a sha1 its bytes miss', async () => {
  const b = await peerOfA('cache-wrong')
  // a sha1 nothing hashes to, asked as big@1.0.0: A holds big@1.0.0, but its bytes do not match
  const wrong = { ...old.get('big')!.ref, integrity: 'sha1-' + Buffer.alloc(20, 7).toString('base64') }
  const start = performance.now()
  assert.equal(await b.peers.fetch(wrong), undefined)
  // every peer said absent (no wait for the idle timeout); a CID for big's bytes would have got A dropped
  assert.ok(performance.now() - start < 1500, `gave up in ${(performance.now() - start).toFixed(0)} ms`)
  assert.ok(b.info().peers.includes(a.info().peerId), 'A answered absent, not a CID of other bytes')
  assert.equal(await createCidIndex(join(cacheA, '_ipfs-npm', 'cids')).get(wrong.integrity), undefined)
})
