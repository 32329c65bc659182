/**
 * The fetch phase's window (src/fetch-phase.ts): a real resolver over a real cache and a real
 * fixture registry; the only thing counted is when the phase asks the resolver for a tarball.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { createTarballCache } from '../src/cache.ts'
import { loadNpmConfig } from '../src/config.ts'
import { startFetchPhase, type FetchPhaseItem } from '../src/fetch-phase.ts'
import { findUserNpm } from '../src/npm-location.ts'
import { createUpstream } from '../src/registry/upstream.ts'
import { createTarballResolver } from '../src/resolver.ts'
import type { TarballResolver } from '../src/types.ts'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { removeDir, tempDir } from './helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let items: FetchPhaseItem[]
let runs = 0

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('fetch-phase')
  items = ['alpha@1.0.0', 'beta@1.0.0', 'gamma@1.0.0', 'delta@1.0.0', 'alpha@2.0.0', 'beta@2.0.0'].map((id) => {
    const packed = registries.main.packages.get(id)
    assert.ok(packed, id)
    return { ref: { name: packed.name, version: packed.version, integrity: packed.integrity, resolved: registries.main.tarballUrl(packed.name, packed.version) }, optional: false, path: join(work, 'node_modules', packed.name, packed.version) }
  })
})

after(async () => {
  await registries.stop()
  await removeDir(work)
})

/** A resolver on a fresh cache with no peers, and how many tarballs it was asked for. */
async function countingResolver (): Promise<TarballResolver & { asked: () => number }> {
  const npm = findUserNpm()
  assert.ok(npm)
  const dir = join(work, `run-${runs++}`)
  const userconfig = `${dir}-npmrc`
  await writeFile(userconfig, `registry=${registries.main.url}\nfetch-retries=0\n`)
  const config = await loadNpmConfig({ npm, argv: ['install', '--userconfig', userconfig, '--cache', dir], cwd: work, env: { PATH: process.env.PATH, HOME: work } })
  const resolver = createTarballResolver({
    cache: createTarballCache({ cachePath: join(dir, '_cacache') }),
    peers: { get: async () => undefined },
    upstream: createUpstream({ flat: config.flat }),
    offline: false,
  })
  let asked = 0
  return {
    ...resolver,
    async resolve (ref) {
      asked++
      // as Node Buffers, whose slice() is a view, not a copy
      const { data, origin } = await resolver.resolve(ref)
      return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), origin }
    },
    asked: () => asked,
  }
}

const tarballOf = (item: FetchPhaseItem): Buffer => registries.main.packages.get(`${item.ref.name}@${item.ref.version}`)!.tarball

test('a full window starts no new fetch until the extractor takes what is in', async () => {
  const resolver = await countingResolver()
  // any tarball fills a 1-byte window; no stall within the test
  const phase = startFetchPhase(items, { resolver, offline: false, concurrency: 2, windowBytes: 1, stallMs: 600_000 })
  await phase.ready(items[0].ref)
  await phase.ready(items[1].ref)
  await tick()
  assert.equal(resolver.asked(), 2, 'two in, window full: nothing more asked')
  assert.deepEqual(Buffer.from(await phase.read(items[0].ref)), tarballOf(items[0]))
  await tick()
  assert.equal(resolver.asked(), 2, 'one still waiting for the extractor fills the window')
  assert.deepEqual(Buffer.from(await phase.read(items[1].ref)), tarballOf(items[1]))
  await phase.ready(items[2].ref)
  await phase.ready(items[3].ref)
  await tick()
  assert.equal(resolver.asked(), 4, 'room again: the next two, no more')
  for (const item of items.slice(2)) {
    await phase.ready(item.ref)
    assert.deepEqual(Buffer.from(await phase.read(item.ref)), tarballOf(item))
  }
  await phase.done
  assert.equal(resolver.asked(), items.length, 'each tarball fetched once')
})

test('tarballs the extractor never takes are let go after a stall: the prefetch ends, and a late read gets the bytes from the cache', async () => {
  const resolver = await countingResolver()
  const phase = startFetchPhase(items, { resolver, offline: false, concurrency: 1, windowBytes: 1, stallMs: 10 })
  await phase.done
  assert.equal(resolver.asked(), items.length)
  for (const item of items) assert.deepEqual(Buffer.from(await phase.read(item.ref)), tarballOf(item))
})

test('a tarball at several places in the tree is kept until each has taken it: fetched once, never read back', async () => {
  const resolver = await countingResolver()
  const twice = [...items, { ...items[0], path: join(work, 'node_modules', 'nested', 'node_modules', items[0].ref.name) }]
  const phase = startFetchPhase(twice, { resolver, offline: false, stallMs: 600_000 })
  await phase.done
  // each place's bytes are its own: the first given away (to a worker) leaves the next whole
  for (const item of twice) {
    const data = await phase.read(item.ref)
    assert.deepEqual(Buffer.from(data), tarballOf(item))
    structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] })
  }
  assert.equal(resolver.asked(), items.length, 'each tarball asked for once, the shared one too')
  // taken by both places: a third read is not the phase's to answer from memory
  await phase.read(items[0].ref)
  assert.equal(resolver.asked(), items.length + 1)
})
