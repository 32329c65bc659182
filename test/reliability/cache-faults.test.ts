/**
 * npm's cache under stress from real `ipfs-npm` processes: `kill -9` at random points of fetch and
 * reify, several `ipfs-npm ci` at once on one cache (and beside `ipfs-npm serve` on it), and a
 * disk that fills up. After each, `cacache.verify` finds no bad content and the next run succeeds.
 */
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { access, mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { cleanEnv } from '../helpers/run-command.ts'
import { seededRandom } from '../helpers/seeded-random.ts'
import { createWorkspace, errorCode, fastUserconfig, ipfsNpm, ipfsNpmBin, npm, report, stackLines, verifyCache, type Workspace } from './helpers.ts'
import { startServe } from '../helpers/serve.ts'

let ws: Workspace
let registries: FixtureRegistries
let userconfig: string

before(async () => {
  ws = await createWorkspace('cache-faults')
  registries = await startFixtureRegistries()
  userconfig = await fastUserconfig(registries, ws.root)
})
after(async () => {
  await registries.stop()
  await ws.cleanup()
})

/** What a correct install of the basic project has: every package with its package.json. */
async function assertInstalled (dir: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, optional?: boolean, dev?: boolean }> }
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.optional === true) continue
    const manifest = JSON.parse(await readFile(join(dir, path, 'package.json'), 'utf8')) as { version: string }
    assert.equal(manifest.version, entry.version, path)
  }
}

async function assertCacheSound (cacheDir: string): Promise<number> {
  const stats = await verifyCache(cacheDir)
  assert.equal(stats.badContentCount, 0, `bad content in the cache: ${JSON.stringify(stats)}`)
  return stats.verifiedContent
}

/** Resolves once `path` exists (polled every 5 ms), or never. */
async function appears (path: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    if (await access(path).then(() => true, () => false)) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('kill -9', () => {
  const { seed, random } = seededRandom('CACHE_FAULTS_SEED')
  test(`12 runs of ipfs-npm ci killed at random points of fetch and reify: the cache stays sound, the next run succeeds (seed ${seed}; rerun with CACHE_FAULTS_SEED=${seed})`, async () => {
    // a little latency per request so the fetch phase is a window a kill can land in
    registries.main.faults.delayMs = 80
    const killedAt: string[] = []
    const nextRunMs: number[] = []
    try {
      for (let i = 0; i < 12; i++) {
        // a fresh cache every other run, so kills meet cold and half-warm caches
        const cacheDir = join(ws.root, `kill-cache-${Math.floor(i / 2)}`)
        const dir = await ws.project('basic')
        const child = spawn(process.execPath, [ipfsNpmBin, 'ci', '--no-mdns', '--userconfig', userconfig, '--cache', cacheDir], { cwd: dir, env: cleanEnv(), stdio: 'ignore' })
        const exited = new Promise((resolve) => child.once('exit', resolve))
        const stopWaiting = new AbortController()
        // three kinds of kill point, in turn: any time, while tarballs are written to the cache, while reify writes node_modules
        const kind = (['any', 'fetch', 'reify'] as const)[i % 3]!
        const trigger = kind === 'any'
          ? new Promise((resolve) => setTimeout(resolve, 200 + random() * 1500))
          : appears(kind === 'fetch' ? join(cacheDir, '_cacache', 'content-v2') : join(dir, 'node_modules'), stopWaiting.signal).then(() => new Promise((resolve) => setTimeout(resolve, random() * 60)))
        const first = await Promise.race([trigger.then(() => 'killed'), exited.then(() => 'exited')])
        stopWaiting.abort()
        child.kill('SIGKILL')
        await exited
        killedAt.push(first === 'exited' ? `${kind}:finished-first` : kind)
        await assertCacheSound(cacheDir)
        const next = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cacheDir], dir)
        assert.equal(next.code, 0, `run after a kill (${kind}):\n${next.stderr}`)
        await assertInstalled(dir)
        nextRunMs.push(next.ms)
      }
    } finally {
      registries.main.faults.delayMs = 0
    }
    const tally = new Map<string, number>()
    for (const point of killedAt) tally.set(point, (tally.get(point) ?? 0) + 1)
    const counts = [...tally].map(([point, n]) => `${n}× ${point}`).join(', ')
    report('kill -9 of ipfs-npm ci (12 runs)', `kill points: ${counts}; cacache verify: 0 bad entries after each; next run succeeded 12/12 (${Math.min(...nextRunMs)}–${Math.max(...nextRunMs)} ms); data lost: none`)
  })
})

describe('concurrent processes on one cache', () => {
  for (const count of [2, 4]) {
    test(`${count} ipfs-npm ci at once on one cold cache: all succeed, nothing corrupt`, async () => {
      const cacheDir = join(ws.root, `concurrent-${count}`)
      const dirs = await Promise.all(Array.from({ length: count }, () => ws.project('basic')))
      const runs = await Promise.all(dirs.map((dir) => ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cacheDir], dir)))
      for (const run of runs) assert.equal(run.code, 0, run.stderr)
      for (const dir of dirs) await assertInstalled(dir)
      const verified = await assertCacheSound(cacheDir)
      report(`${count} concurrent ipfs-npm ci, one cache`, `all exit 0 (${runs.map((r) => r.ms).join(', ')} ms); cacache verify: ${verified} entries, 0 bad`)
    })
  }

  test('ipfs-npm ci while ipfs-npm serve runs on the same cache: both fine, nothing corrupt', async () => {
    const cacheDir = join(ws.root, 'with-serve')
    const serve = await startServe({ cwd: ws.root, args: ['--userconfig', userconfig, '--cache', cacheDir] })
    try {
      const dirs = await Promise.all([ws.project('basic'), ws.project('basic')])
      // the serve process fetches through its shim while both ci processes write the same cache
      const [a, b, viaServe] = await Promise.all([
        ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cacheDir], dirs[0]!),
        ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cacheDir], dirs[1]!),
        fetch(`${serve.url}alpha/-/alpha-1.1.0.tgz`).then(async (res) => ({ status: res.status, bytes: (await res.arrayBuffer()).byteLength })),
      ])
      assert.equal(a.code, 0, a.stderr)
      assert.equal(b.code, 0, b.stderr)
      assert.equal(viaServe.status, 200)
      for (const dir of dirs) await assertInstalled(dir)
      assert.equal(serve.child.exitCode, null, 'serve still running')
      assert.equal((await fetch(`${serve.url}beta/-/beta-1.1.0.tgz`)).status, 200)
      const verified = await assertCacheSound(cacheDir)
      report('ipfs-npm ci ×2 beside ipfs-npm serve, one cache', `all fine (${a.ms}, ${b.ms} ms), serve answered throughout; cacache verify: ${verified} entries, 0 bad`)
    } finally {
      await serve.stop()
    }
  })
})

describe('disk full', { skip: process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : false }, () => {
  test('the cache on a full tmpfs: a clear ENOSPC error, non-zero exit, no corrupt entries; fine once there is room', async () => {
    const mount = join(ws.root, 'tmpfs')
    await mkdir(mount)
    // room for the project's few small tarballs' first writes, not for the 1.5 MiB `big` package
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount])
    try {
      const [a, b] = await Promise.all([ws.project('bundled'), ws.project('bundled')])
      const i = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', join(mount, 'ipfs-npm')], a)
      const n = await npm(['ci', '--userconfig', userconfig, '--cache', join(mount, 'npm')], b)
      const detail = `ipfs-npm exit ${i.code}:\n${i.stderr}\nnpm exit ${n.code}:\n${n.stderr}`
      assert.notEqual(i.code, 0, detail)
      assert.equal(errorCode(i), 'ENOSPC', detail)
      assert.match(i.stderr, /insufficient space/, detail)
      assert.deepEqual(stackLines(i), [], detail)
      const left = await readdir(join(mount, 'ipfs-npm', '_cacache', 'tmp')).catch(() => [])
      // room first: cacache.verify itself writes (its index rebuild, `_lastverified`)
      execFileSync('mount', ['-o', 'remount,size=32m', mount])
      const stats = await verifyCache(join(mount, 'ipfs-npm'))
      assert.equal(stats.badContentCount, 0, JSON.stringify(stats))
      const again = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', join(mount, 'ipfs-npm')], a)
      assert.equal(again.code, 0, again.stderr)
      report('disk full (1 MiB tmpfs cache)', `ipfs-npm exit ${i.code} ENOSPC (npm: exit ${n.code} ${errorCode(n)}), one clear error; cacache verify 0 bad, ${left.length} tmp files left; next run with room: exit 0`)
    } finally {
      execFileSync('umount', ['-l', mount])
    }
  })
})
