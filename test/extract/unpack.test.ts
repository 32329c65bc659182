/**
 * The worker's unpacking against pacote's own, side by side on the same bytes: every crafted
 * tarball our reader takes must come out file for file, byte for byte and mode for mode as
 * `pacote.extract` lays it out (under npm's umask config too); every one it leaves to pacote
 * must be refused before a single file is written.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { createTarballCache } from '../../src/cache.ts'
import { createExtractPool } from '../../src/extract/pool.ts'
import { discard, unpack } from '../../src/extract/unpack.ts'
import { diffTrees, snapshotTree } from '../helpers/tree-snapshot.ts'
import { craftedTgz } from '../helpers/tar-craft.ts'
import { crafted, leftToPacote, native } from './crafted.ts'

const require = createRequire(import.meta.url)
const pacote = require('pacote') as { extract(spec: string, dest: string, opts: Record<string, unknown>): Promise<unknown> }
const cacache = require('cacache') as { put(cache: string, key: string, data: Uint8Array): Promise<string> }

const byName = new Map(crafted.map((pkg) => [pkg.name, pkg]))

describe('unpacking a tarball as pacote does', () => {
  let root: string
  let cache: string
  let counter = 0
  const fresh = async (): Promise<string> => {
    const dir = join(root, `d${counter++}`)
    await mkdir(dir, { recursive: true })
    return dir
  }
  /** pacote's extraction the way Arborist asks for a registry tarball: by digest, from the cache. */
  const withPacote = async (name: string, dest: string, opts: Record<string, unknown>): Promise<void> => {
    const pkg = byName.get(name)!
    const resolved = `http://127.0.0.1:9/${name}/-/${pkg.filename}`
    await pacote.extract(`${name}@${resolved}`, dest, { ...opts, cache, resolved, integrity: pkg.integrity })
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ipfs-npm-unpack-test-'))
    cache = join(root, 'cache')
    for (const pkg of crafted) await cacache.put(cache, `test:${pkg.name}`, pkg.tarball)
  })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  for (const options of [{ umask: 0, allowGitIgnore: false }, { umask: 0o027, allowGitIgnore: false }, { umask: 0, allowGitIgnore: true }]) {
    for (const name of native) {
      test(`${name}, umask ${options.umask.toString(8)}${options.allowGitIgnore ? ', allowGitIgnore' : ''}: the same files and modes`, async () => {
        const [ours, theirs] = [await fresh(), await fresh()]
        const result = unpack({ dest: ours, tarball: byName.get(name)!.tarball, fmode: 0o666, processUmask: 0o022, ...options })
        assert.deepEqual(result, { unpacked: true })
        await withPacote(name, theirs, options)
        const [a, b] = await Promise.all([snapshotTree(theirs), snapshotTree(ours)])
        assert.deepEqual(diffTrees(a, b, ['pacote', 'ours']), [])
        assert.ok(a.size > 1, 'pacote wrote files')
      })
    }
  }

  for (const name of [...leftToPacote, 'x-truncated', 'x-corrupt', 'x-short-tar']) {
    test(`${name}: left to pacote, nothing written`, async () => {
      const dest = await fresh()
      const result = unpack({ dest, tarball: byName.get(name)!.tarball, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 })
      assert.ok('unusual' in result, `${name} was unpacked`)
      assert.deepEqual(await readdir(dest), [])
    })
  }

  test('a cache file is read and checked by the worker: the same tree; a damaged or missing one is left unread, nothing written', async () => {
    const pkg = byName.get('x-modes')!
    const file = await createTarballCache({ cachePath: cache }).file(pkg.integrity)
    assert.ok(file !== undefined, 'the crafted tarball is in the cache')
    const task = { fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 }
    const [fromFile, fromBytes] = [await fresh(), await fresh()]
    assert.deepEqual(unpack({ ...task, dest: fromFile, tarball: file }), { unpacked: true })
    unpack({ ...task, dest: fromBytes, tarball: pkg.tarball })
    assert.deepEqual(diffTrees(await snapshotTree(fromBytes), await snapshotTree(fromFile), ['bytes', 'file']), [])

    const damaged = join(root, 'damaged.tgz')
    const bytes = Buffer.from(pkg.tarball)
    bytes[bytes.length - 20] ^= 1
    await writeFile(damaged, bytes)
    for (const path of [damaged, join(root, 'no-such-file')]) {
      const dest = await fresh()
      assert.ok('unread' in unpack({ ...task, dest, tarball: { path, sri: file.sri } }), path)
      assert.deepEqual(await readdir(dest), [])
    }
  })

  test('what unpacking allocates is freed as it ends, never the caller\'s bytes; small pooled Buffers are left alone', async () => {
    // random bytes do not compress: the tarball and its tar are both over the 64 KiB bound
    const body = randomBytes(200 * 1024)
    const pkg = craftedTgz({ name: 'x-big', version: '1.0.0' }, [{ path: 'package/random.bin', body }])
    const tarball = new Uint8Array(pkg.tarball)
    const dest = await fresh()
    assert.deepEqual(unpack({ dest, tarball, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 }), { unpacked: true })
    assert.equal(tarball.byteLength, pkg.tarball.length, 'the caller\'s bytes are whole')
    assert.deepEqual(await readFile(join(dest, 'random.bin')), body)

    const big = new Uint8Array(64 * 1024)
    const view = big.subarray(10)
    discard(big)
    assert.deepEqual([big.byteLength, view.byteLength], [0, 0], 'freed: every view is empty')
    discard(big)
    // a small gunzipped tar is a slice of zlib's shared pool, as small Buffers are of Node's
    const small = gunzipSync(gzipSync('pooled'))
    const sibling = Buffer.from('a neighbour in the pool')
    discard(small)
    discard(sibling)
    assert.deepEqual([small.toString(), sibling.toString()], ['pooled', 'a neighbour in the pool'])
  })

  test('the pool unpacks on worker threads, one tarball per worker at a time, and ends', async () => {
    const pool = createExtractPool({ size: 2 })
    try {
      const dests = await Promise.all(native.map(() => fresh()))
      // every other tarball a view into a larger buffer (as bytes from a bitswap message are)
      const given = native.map((name, i) => {
        const bytes = byName.get(name)!.tarball
        if (i % 2 === 0) return new Uint8Array(bytes)
        const larger = new Uint8Array(bytes.length + 16)
        larger.set(bytes, 8)
        return larger.subarray(8, 8 + bytes.length)
      })
      let loading = 0
      let most = 0
      const results = await Promise.all(native.map((_, i) => pool.run(async () => {
        most = Math.max(most, ++loading)
        await new Promise((resolve) => setTimeout(resolve, 5))
        loading--
        return { dest: dests[i]!, tarball: given[i]!, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 }
      })))
      assert.ok(results.every((result) => 'unpacked' in result))
      assert.ok(most <= 4, `at most 2 × size tarballs loaded at once, saw ${most}`)
      // bytes that are their buffer's whole move to the worker (no copy); a view is copied, and left as it was
      for (const [i, name] of native.entries()) assert.equal(given[i]!.byteLength, i % 2 === 0 ? 0 : byName.get(name)!.tarball.length, name)
      for (const [i, name] of native.entries()) {
        const theirs = await fresh()
        await withPacote(name, theirs, {})
        assert.deepEqual(diffTrees(await snapshotTree(theirs), await snapshotTree(dests[i]!), ['pacote', 'pool']), [])
      }
      // bytes that cannot be sent (given away already) fail their task only: the worker takes the next
      const gone = new Uint8Array(byName.get('x-dupes')!.tarball)
      structuredClone(gone.buffer, { transfer: [gone.buffer] })
      await assert.rejects(Promise.all([0, 1].map(async () => pool.run(async () => ({ dest: await fresh(), tarball: gone, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 })))))
      assert.ok('unpacked' in await pool.run(async () => ({ dest: await fresh(), tarball: new Uint8Array(byName.get('x-dupes')!.tarball), fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 })))
      await assert.rejects(pool.run(async () => ({ dest: join(root, 'missing', 'parent'), tarball: byName.get('x-dupes')!.tarball, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 })), { code: 'ENOENT' })
    } finally {
      await pool.close()
    }
  })

  test('tasks waiting for a place in the pool start largest first, those of one size in turn', async () => {
    // one worker: two places, held until the test lets their loads end
    const pool = createExtractPool({ size: 1 })
    try {
      const loaded: string[] = []
      const holds: Array<() => void> = []
      const task = (label: string, size?: number): Promise<unknown> => pool.run(async () => {
        loaded.push(label)
        if (label.startsWith('holds')) await new Promise<void>((resolve) => holds.push(resolve))
        return { dest: await fresh(), tarball: new Uint8Array(byName.get('x-dupes')!.tarball), fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: 0o022 }
      }, size)
      const all = [task('holds 1', 1), task('holds 2', 1), task('small', 10), task('unknown'), task('large', 1000), task('mid', 100), task('mid again', 100)]
      // the waiting tasks have queued (each waits for a place before its load) once both holders load
      while (holds.length < 2) await new Promise((resolve) => setImmediate(resolve))
      for (const hold of holds) hold()
      await Promise.all(all)
      assert.deepEqual(loaded, ['holds 1', 'holds 2', 'large', 'mid', 'mid again', 'small', 'unknown'])
    } finally {
      await pool.close()
    }
  })
})

describe('ci over an existing tree: unchanged files moved back, not written', () => {
  let root: string
  before(async () => { root = await mkdtemp(join(tmpdir(), 'ipfs-npm-reuse-test-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  test('identical files keep their inode; an edited one is written anew; extra files stay behind', async () => {
    const task = { tarball: byName.get('x-modes')!.tarball, fmode: 0o666, umask: 0, allowGitIgnore: false, processUmask: process.umask() }
    const old = join(root, 'old')
    const fresh = join(root, 'fresh')
    const again = join(root, 'again')
    await Promise.all([old, fresh, again].map((dir) => mkdir(dir)))
    unpack({ ...task, dest: old })
    unpack({ ...task, dest: fresh })
    await writeFile(join(old, 'none.txt'), 'edited by a user\n')
    await writeFile(join(old, 'extra.txt'), 'not in the tarball\n')
    const inode = (await stat(join(old, 'package.json'))).ino

    assert.deepEqual(unpack({ ...task, dest: again, previous: old }), { unpacked: true })
    assert.deepEqual(diffTrees(await snapshotTree(fresh), await snapshotTree(again), ['fresh', 'again']), [])
    assert.equal((await stat(join(again, 'package.json'))).ino, inode, 'package.json was moved back')
    assert.deepEqual((await readdir(old, { recursive: true })).sort(), ['bin', 'bin/deep', 'extra.txt', 'none.txt'])
  })
})
