/**
 * Misbehaving peers (test/reliability/hostile-peer.ts, each a real process) given to a real
 * `ipfs-npm ci --peer …`: silent, slow, vanishing mid-tarball, lying about CIDs, flooding
 * unrequested and oversized blocks. The install must complete correctly from the next source
 * (the registry, or an honest peer), within a bounded time over the no-peer baseline; the time
 * added is printed. Nothing the bad peer sent may end up in the cache.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, test } from 'node:test'
import { parseOrigins } from '../helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { cleanEnv } from '../helpers/run-command.ts'
import { createWorkspace, fastUserconfig, ipfsNpm, report, verifyCache, type Workspace } from './helpers.ts'
import { startServe } from '../helpers/serve.ts'

const run = promisify(execFile)
const HOSTILE_PEER = join(import.meta.dirname, 'hostile-peer.ts')
const PEER_TIMEOUT = 1000
/** What a bad peer may add to an install: a few idle windows and a node start. */
const ADDED_BOUND_MS = 4 * PEER_TIMEOUT + 3000

let ws: Workspace
let registries: FixtureRegistries
let userconfig: string
let baselineMs: number
const peers: ChildProcess[] = []

/** The lockfile's tarballs as the registry serves them, for the peer to hold. */
function projectTarballs (): Array<{ integrity: string, base64: string }> {
  return [...registries.main.packages.values()]
    .filter((p) => ['big', 'bundler', 'old-thing'].includes(p.name))
    .map((p) => ({ integrity: p.integrity, base64: p.tarball.toString('base64') }))
}

/** The last `{ flooded }` count each flood peer printed. */
const floodedBytes = new Map<string, number>()

async function startHostilePeer (mode: string, extra: object = {}): Promise<string> {
  const configFile = join(ws.root, `hostile-${mode}-${peers.length}.json`)
  await writeFile(configFile, JSON.stringify({ mode, tarballs: projectTarballs(), ...extra }))
  const child = spawn(process.execPath, [HOSTILE_PEER, configFile], { stdio: ['ignore', 'pipe', 'inherit'], env: cleanEnv() })
  peers.push(child)
  const lines = createInterface({ input: child.stdout! })
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`hostile peer (${mode}) exited ${code}`)))
  })
  const { address } = JSON.parse(line) as { address: string }
  lines.on('line', (next) => { floodedBytes.set(address, (JSON.parse(next) as { flooded: number }).flooded) })
  return address
}

/** ci of the bundled project (a 1.5 MiB UnixFS tarball and small ones) with these peers, on a fresh cache. */
async function ciWith (peerAddresses: string[]): Promise<{ ms: number, origins: ReturnType<typeof parseOrigins>, cache: string, stderr: string, peakRssMiB: number }> {
  const dir = await ws.project('bundled')
  const cache = join(dir, '..', 'cache')
  const flags = peerAddresses.flatMap((address) => ['--peer', address])
  const run = await withPeakRss(cache, ipfsNpm(['ci', '--userconfig', userconfig, '--cache', cache, '--peer-timeout', String(PEER_TIMEOUT), ...flags], dir, { timeoutMs: 60_000 }))
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
  // installed correctly: big's bytes as published, bundled deps in place
  const big = registries.main.packages.get('big@1.0.0')!
  const manifest = JSON.parse(await readFile(join(dir, 'node_modules', 'big', 'package.json'), 'utf8')) as { version: string }
  assert.equal(manifest.version, big.version)
  await readFile(join(dir, 'node_modules', 'bundler', 'node_modules', 'bundled-dep', 'package.json'))
  const stats = await verifyCache(cache)
  assert.equal(stats.badContentCount, 0)
  return { ms: run.ms, origins: parseOrigins(run), cache, stderr: run.stderr, peakRssMiB: run.peakRssMiB }
}

/** Samples the resident memory of the process whose command line holds `marker` while `running` lasts; the peak in MiB. */
async function withPeakRss<T extends object> (marker: string, running: Promise<T>): Promise<T & { peakRssMiB: number }> {
  let peak = 0
  let done = false
  const sampling = (async () => {
    while (!done) {
      const { stdout } = await run('ps', ['-eo', 'rss=,args=']).catch(() => ({ stdout: '' }))
      for (const line of stdout.split('\n')) {
        if (line.includes(marker)) peak = Math.max(peak, Number(line.trim().split(/\s+/)[0]) / 1024)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const result = await running
  done = true
  await sampling
  return { ...result, peakRssMiB: Math.round(peak) }
}

/** CIDs in a cache's integrity → CID index (none should come from a peer that lied). */
async function indexedCids (cache: string): Promise<string[]> {
  const dir = join(cache, '_ipfs-npm', 'cids')
  const files = await readdir(dir).catch(() => [])
  return Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')))
}

before(async () => {
  ws = await createWorkspace('peer-faults')
  registries = await startFixtureRegistries()
  userconfig = await fastUserconfig(registries, ws.root)
  // the baseline starts a node too (a peer that cannot be reached), so only the fault's cost differs
  const unreachable = ['/ip4/127.0.0.1/tcp/9/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo']
  // the faster of two: the first run of a test file also pays for cold disk caches
  baselineMs = Math.min((await ciWith(unreachable)).ms, (await ciWith(unreachable)).ms)
})
after(async () => {
  for (const child of peers) child.kill('SIGKILL')
  await registries.stop()
  await ws.cleanup()
})

describe('a bad peer costs a bounded wait, then the registry delivers', () => {
  const modes: Array<[string, string, { slowMs?: number, bombMiB?: number, boundMs?: number }?]> = [
    ['silent', 'a silent peer (takes streams, never answers)'],
    ['slow', 'a slow peer (every block and answer 5 s late)', { slowMs: 5000 }],
    ['vanish', 'a peer that dies mid-tarball (after the first block of a UnixFS DAG)'],
    ['liar', 'a peer that answers the integrity→CID protocol with a wrong CID'],
    ['flood', 'a peer that floods unrequested blocks and oversized messages'],
    // before the size cap, following it cost ~7 s of wants (and the bytes in memory)
    ['bomb', 'a peer that answers with a DAG bomb (600 MiB claimed, 1 MiB of blocks)', { bombMiB: 600, boundMs: 4500 }],
  ]
  for (const [mode, name, extra] of modes) {
    test(name, async () => {
      const address = await startHostilePeer(mode, extra)
      const run = await ciWith([address])
      const added = run.ms - baselineMs
      const bound = extra?.boundMs ?? ADDED_BOUND_MS
      assert.ok(added < bound, `added ${added} ms (baseline ${baselineMs} ms, this ${run.ms} ms)\n${run.stderr}`)
      assert.equal(run.origins?.peers, 0, 'nothing came from the bad peer')
      assert.deepEqual(await indexedCids(run.cache), [], 'nothing the peer claimed entered the integrity → CID index')
      assert.ok(run.peakRssMiB > 0 && run.peakRssMiB < 400, `ipfs-npm ci peak RSS ${run.peakRssMiB} MiB`)
      const flooded = floodedBytes.get(address) ?? 0
      if (mode === 'flood') assert.ok(flooded > 8 * 1024 * 1024, `the flood happened: ${flooded} bytes`)
      report(`peer: ${mode}`, `ci exit 0, correct tree; ${run.ms} ms vs ${baselineMs} ms without it (added ${added} ms, bound ${bound}); ${run.origins?.registry} from registry, 0 from the peer, index untouched, ci peak RSS ${run.peakRssMiB} MiB${mode === 'flood' ? ` (${Math.round(flooded / 1048576)} MiB of unrequested/oversized blocks pushed)` : ''}; cacache verify 0 bad; data lost: none`)
    })
  }
})

test('a liar and an honest peer (ipfs-npm serve): the honest one delivers, the liar costs little', async () => {
  const seedCache = join(ws.root, 'seed-cache')
  const seedDir = await ws.project('bundled')
  assert.equal((await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', seedCache], seedDir)).code, 0)
  const honest = await startServe({ cwd: ws.root, args: ['--userconfig', userconfig, '--cache', seedCache] })
  try {
    const liar = await startHostilePeer('liar')
    const before = registries.main.requests.length
    const run = await ciWith([liar, honest.address])
    const tarballRequests = registries.main.requests.slice(before).filter((r) => r.path.endsWith('.tgz')).length
    assert.ok((run.origins?.peers ?? 0) >= 3, `from peers: ${JSON.stringify(run.origins)}\n${run.stderr}`)
    assert.equal(tarballRequests, 0, 'no tarball from the registry')
    report('peer: liar + honest peer', `ci exit 0 in ${run.ms} ms (baseline ${baselineMs} ms); ${run.origins?.peers} from peers, 0 from registry; the lie cost no fall-back`)
  } finally {
    await honest.stop()
  }
})
