/**
 * A peer that shares its cache without having prepared it (an `ipfs-npm ci` that serves, not
 * `serve`, which builds every DAG ahead) must answer the first question for a large tarball well
 * inside an asker's peer timeout: the asker gives up after 2 s of silence and goes to the
 * registry. Session 8 measured 3.8–8.6 s under load: a read of the whole cache index to judge
 * the tarball shareable (~1 s for a monorepo's cache), then the DAG built and written. The answer
 * must not grow with the cache index, and must leave the asker most of its patience for a
 * loaded machine.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, test } from 'node:test'
import cacache from 'cacache'
import ssri from 'ssri'
import { createIpfsNode } from '../../src/ipfs/index.ts'
import { createSharingPolicy } from '../../src/sharing.ts'
import { registryTarballUrl } from '../../src/tarball-url.ts'
import { LOOPBACK, runCleanup, startNode, tempDir, waitForPeers } from './helpers.ts'

const cleanup: Array<() => Promise<void>> = []
after(async () => runCleanup(cleanup))

const REGISTRY = 'https://registry.invalid/'
/**
 * Index entries, each with npm's headers: a cache some monorepos' installs share (the bench's
 * monorepo alone leaves 3,100). Reading them all took more than the asker's patience on its own.
 */
const ENTRIES = 6000

/** `count` index entries as npm's HTTP cache writes them, for tarballs not on disk: only the index is read. */
async function fillIndex (cachePath: string, count: number): Promise<void> {
  const headers = { 'content-type': 'application/octet-stream', etag: '"0123456789abcdef"', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', 'cache-control': 'public, max-age=31557600' }
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
      const name = `filler-${i + j}`
      const url = registryTarballUrl(REGISTRY, name, '1.0.0')
      const integrity = `sha512-${createHash('sha512').update(name).digest('base64')}`
      await cacache.index.insert(cachePath, `make-fetch-happen:request-cache:${url}`, integrity, { size: 1000, metadata: { url, reqHeaders: { accept: '*/*' }, resHeaders: headers, options: { compress: true } } })
    }))
  }
}

test('a peer that never prepared its cache answers for a large tarball within the default peer timeout, whatever the size of its cache index', async () => {
  const dir = await tempDir(cleanup, 'first-answer')
  const cacheA = join(dir, 'cache-a')
  const cachePath = join(cacheA, '_cacache')
  // as big as the large project's biggest tarball
  const data = randomBytes(4 * 1024 * 1024 + 4321)
  const ref = { name: 'big-one', version: '2.0.0', integrity: ssri.fromData(data, { algorithms: ['sha512'] }).toString() }
  await fillIndex(cachePath, ENTRIES)
  const url = registryTarballUrl(REGISTRY, ref.name, ref.version)
  await cacache.put(cachePath, `make-fetch-happen:request-cache:${url}`, data, { integrity: ref.integrity, algorithms: ['sha512'], metadata: { url } })

  // A: serves its cache (as `ipfs-npm ci --serve` does), nothing prepared; the tarball is public
  const a = await createIpfsNode({ cacheDir: cacheA, options: LOOPBACK, sharing: createSharingPolicy({ flat: { registry: REGISTRY } }) })
  cleanup.push(async () => a.stop())
  const b = await startNode(cleanup, join(dir, 'cache-b'), { peers: [a.info().addresses[0]!] })
  await waitForPeers(b, 1)

  const started = performance.now()
  const fetched = await b.peers.fetch(ref)
  console.log(`# first answer: ${ref.name} (${data.byteLength} bytes) fetched from a peer that never prepared it, ${ENTRIES} index entries, in ${(performance.now() - started).toFixed(0)} ms`)
  assert.ok(fetched !== undefined, `B got ${ref.name} from A within its ${LOOPBACK.peerTimeout} ms of patience`)
  assert.ok(Buffer.from(fetched).equals(data))
})
