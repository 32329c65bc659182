/**
 * The serving gate over a real npm cache that another process writes to while we serve: content
 * it adds is judged by a read of the cache index made after the ask (not the last one, up to
 * seconds old), so a peer asking right away is served — and what is private stays private.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import cacache from 'cacache'
import { createSharingPolicy } from '../../src/sharing.ts'
import { createCacheBlockstore } from '../../src/ipfs/cache-blockstore.ts'
import { createCidIndex } from '../../src/ipfs/cid-index.ts'
import { rawCidFromIntegrity } from '../../src/ipfs/cid.ts'
import { createServable } from '../../src/ipfs/servable.ts'

const flat = {
  registry: 'https://registry.example/',
  '@corp:registry': 'https://npm.corp.example/',
  '//npm.corp.example/:_authToken': 'secret',
}

/** What npm writes for a tarball it fetched from `url`; returns the tarball's raw CID. */
async function npmCaches (cachePath: string, url: string): Promise<ReturnType<typeof rawCidFromIntegrity>> {
  const integrity = await cacache.put(cachePath, `make-fetch-happen:request-cache:${url}`, randomBytes(2048), { algorithms: ['sha512'] })
  return rawCidFromIntegrity(String(integrity))
}

/** The gate of a serving node outside a swarm over the cache in `work`. */
function servableOver (work: string): ReturnType<typeof createServable> {
  const cachePath = join(work, '_cacache')
  return createServable({
    cachePath,
    blockstore: createCacheBlockstore({ cachePath }),
    index: createCidIndex(join(work, 'cids')),
    sharing: createSharingPolicy({ flat }),
    serve: true,
    inSwarm: false,
  })
}

test('content another process caches while we serve is judged at once: public served, private and unvouched not', async () => {
  const work = await mkdtemp(join(tmpdir(), 'ipfs-npm-servable-'))
  try {
    const cachePath = join(work, '_cacache')
    const servable = servableOver(work)
    const first = await npmCaches(cachePath, 'https://registry.example/a/-/a-1.0.0.tgz')
    assert.equal(await servable.block(first!), true, 'a public tarball cached before the first ask')

    // another process (plain npm) adds to the cache right after our read of its index
    const later = await npmCaches(cachePath, 'https://registry.example/b/-/b-1.0.0.tgz')
    const secret = await npmCaches(cachePath, 'https://npm.corp.example/@corp/c/-/c-1.0.0.tgz')
    const unvouched = rawCidFromIntegrity(String(await cacache.put(cachePath, 'some-other-tool:entry', randomBytes(2048), { algorithms: ['sha512'] })))
    const asks = await Promise.all([
      ...Array.from({ length: 10 }, async () => servable.block(later!)),
      servable.block(secret!),
      servable.block(unvouched!),
    ])
    assert.deepEqual(asks, [...Array(10).fill(true), false, false], 'the public tarball served to every asker at once; the private one and the one no entry vouches for not')
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})

test('a serving node reads its sharing verdicts at start (warm): a first ask after that reads no index', async () => {
  const work = await mkdtemp(join(tmpdir(), 'ipfs-npm-servable-'))
  try {
    const cachePath = join(work, '_cacache')
    const servable = servableOver(work)
    const open = await npmCaches(cachePath, 'https://registry.example/a/-/a-1.0.0.tgz')
    const secret = await npmCaches(cachePath, 'https://npm.corp.example/@corp/c/-/c-1.0.0.tgz')
    await servable.warm()
    // the index is gone (the content stays): only the verdicts read at start can answer now
    await rename(join(cachePath, 'index-v5'), join(work, 'index-elsewhere'))
    assert.equal(await servable.block(open!), true, 'the public tarball, by the verdicts read at start')
    assert.equal(await servable.block(secret!), false, 'the private one stays private')
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})
