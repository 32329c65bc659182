/**
 * One index, two writers on one cache: a long-lived `serve --index` holds the index open while a
 * `publish --index` process adds a version and publishes. Whichever publishes next must keep the
 * other's work — packages and, for a package both changed, versions. Real keys, records and
 * blocks; the network replaced by a block map and a transport that keeps nothing.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { createSignedIndexes, type Manifest, type SignedIndexComponents } from '../../src/metadata/signed-index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const manifest = (name: string, version: string): Manifest => ({
  name,
  version,
  dist: { integrity: `sha512-${Buffer.alloc(64, version.length).toString('base64')}`, tarball: `https://registry.invalid/${name}/-/${name.split('/').at(-1)}-${version}.tgz` },
})

test('a publish by another process on this cache is kept by the next publish of an index held open', async () => {
  const dir = await tempDir('index-writers')
  try {
    const stored = new Map<string, Uint8Array>()
    const components: SignedIndexComponents = {
      stateDir: join(dir, '_ipfs-npm'),
      blocks: {
        async get (cid) {
          const bytes = stored.get(cid.toString())
          if (bytes === undefined) throw new Error('absent')
          return bytes
        },
        async put ({ cid, bytes }) { stored.set(cid.toString(), bytes) },
      },
      records: { async publish () {}, serve () {}, async find () { return [] }, onAnnounce () {} },
    }
    // the serve: opened first, kept open
    const held = await createSignedIndexes(components).open()
    // a publish --index process: opens, adds, publishes, ends
    const publisher = await createSignedIndexes(components).open()
    await publisher.addVersion(manifest('@myco/util', '1.0.0'))
    await publisher.publish()
    // the serve adds what it served, and a version of the same package, knowing nothing of the above
    await held.addPackument({ name: 'left', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': manifest('left', '1.0.0') } })
    await held.addVersion(manifest('@myco/util', '2.0.0'), { tags: ['next'] })
    await held.publish()

    const fresh = await createSignedIndexes(components).open()
    assert.deepEqual(Object.keys((await fresh.packument('@myco/util'))?.versions ?? {}).sort(), ['1.0.0', '2.0.0'])
    assert.deepEqual((await fresh.packument('@myco/util'))?.['dist-tags'], { latest: '1.0.0', next: '2.0.0' })
    assert.deepEqual(Object.keys((await fresh.packument('left'))?.versions ?? {}), ['1.0.0'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
