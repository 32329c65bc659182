/**
 * `ipfs-npm serve` as the registry of every client: npm, pnpm 10, bun, yarn 1 and yarn 4 (the
 * real ones, devDependencies) each install a small project
 * 1. straight from a hermetic fixture registry that stands for the upstream (the lockfile to match);
 * 2. through serve A, told only serve's URL: the lockfile must be the one of run 1 (or differ only
 *    where the client's own rules leave no choice, see `portable` below), and serve must have
 *    served every tarball over HTTP to that client;
 * 3. frozen from that lockfile through serve B, whose upstream is dead and whose cache holds no
 *    tarball, with serve A as its peer: every tarball comes from the peer.
 */
import assert from 'node:assert/strict'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CLIENTS, LOCKFILES, installWith, readLockfile, type ClientName } from './helpers/clients.ts'
import { startRegistry, type TestRegistry } from './helpers/registry.ts'
import { startServe, type ServeProcess } from './helpers/serve.ts'
import { tempDir } from './helpers/temp-dir.ts'

const PROJECT = {
  name: 'clients-fixture',
  version: '1.0.0',
  private: true,
  dependencies: { alpha: '^1.0.0', delta: '^1.0.0', 'hello-bin': '^1.0.0', '@fix/scoped-a': '^1.0.0' },
}
/** Every package the project's tree holds, and how many tarballs that is. */
const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'hello-bin', '@fix/scoped-a', '@fix/scoped-b']
const TARBALLS = 8
/** How npm, pnpm, yarn 1 and bun ask for a packument. */
const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'

/** The client kind serve counts a client's requests under (yarn 4 says only "got"). */
const KIND: Record<ClientName, string> = { npm: 'npm', pnpm: 'pnpm', bun: 'bun', yarn1: 'yarn1', yarn4: 'yarn' }

interface Counts { tarballs: number, bytes: number }
interface Status {
  http: { tarballs: number, byClient: Record<string, Counts>, byOrigin: Record<string, Counts>, saved: Counts }
}

let upstream: TestRegistry
let work: string
let serveA: ServeProcess

async function status (serve: ServeProcess): Promise<Status> {
  const res = await fetch(`${serve.url}-/ipfs-npm/status`)
  assert.equal(res.status, 200)
  return await res.json() as Status
}

/** An npm user config for a serve process: the upstream, and no retries of a dead one. */
async function serveConfig (name: string): Promise<string[]> {
  const dir = join(work, name)
  await mkdir(dir, { recursive: true })
  const userconfig = join(dir, 'npmrc')
  await writeFile(userconfig, `registry=${upstream.url}\nfetch-retries=0\naudit=false\nfund=false\nupdate-notifier=false\n`)
  return ['--userconfig', userconfig, '--cache', join(dir, 'cache'), '--loglevel', 'http']
}

async function project (path: string, lockfile?: { client: ClientName, text: string }): Promise<string> {
  await mkdir(path, { recursive: true })
  await writeFile(join(path, 'package.json'), `${JSON.stringify(PROJECT, null, 2)}\n`)
  if (lockfile !== undefined) await writeFile(join(path, LOCKFILES[lockfile.client]), lockfile.text)
  return path
}

/**
 * The lockfile written against the upstream itself, with the one difference each client's rules
 * make unavoidable when its registry is not the public one (the fixture stands for it here):
 * - bun writes `""` (its configured registry) only for the public registry's tarballs and every
 *   other tarball's full URL; through serve the packument names no URL, so bun builds serve's
 *   itself and writes `""` — what it writes against the public registry;
 * - yarn 1 writes `dist.tarball` verbatim; through serve it is the path under the registry,
 *   which yarn 1 resolves against whatever registry it is configured with.
 * npm, pnpm and yarn 4 must match byte for byte.
 */
function portable (client: ClientName, lockfile: string): string {
  const escaped = upstream.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  if (client === 'bun') return lockfile.replace(new RegExp(`"${escaped}[^"]*\\.tgz"`, 'g'), '""')
  if (client === 'yarn1') {
    return lockfile.replace(new RegExp(`resolved "${escaped}([^"]*)"`, 'g'), (_, path: string) => `resolved ${/^[a-zA-Z][^:\s"]*$/.test(path) ? path : JSON.stringify(path)}`)
  }
  return lockfile
}

/** A line-by-line diff, for the test log (and the report). */
function diff (a: string, b: string): string {
  const left = a.split('\n')
  const right = b.split('\n')
  const out: string[] = []
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) out.push(`- ${left[i] ?? ''}`, `+ ${right[i] ?? ''}`)
  }
  return out.join('\n')
}

before(async () => {
  upstream = await startRegistry()
  work = await tempDir('serve-clients')
  serveA = await startServe({ cwd: work, args: await serveConfig('serve-a') })
})

after(async () => {
  await serveA?.stop()
  await upstream?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('serve is the registry of every client', { concurrency: false }, () => {
  for (const client of CLIENTS) {
    test(`${client}: the upstream's lockfile through serve, then the same install from a peer with the upstream dead`, async () => {
      const root = join(work, client)
      // npm keeps the upstream's URLs in its lockfile and sends a registry host it knows to the
      // configured registry (npm's replace-registry-host, the public registry's host by default):
      // for the fixture standing for the public registry, that host is the fixture's.
      const npmExtra = client === 'npm' ? [`replace-registry-host=${upstream.url}`] : []

      const direct = await project(join(root, 'direct'))
      const first = await installWith({ client, cwd: direct, registry: upstream.url, state: join(root, 'state-direct') })
      assert.equal(first.code, 0, `${client} against the upstream:\n${first.stdout}\n${first.stderr}`)
      const expected = await readLockfile(client, direct)

      const before = await status(serveA)
      const viaServe = await project(join(root, 'via-serve'))
      const second = await installWith({ client, cwd: viaServe, registry: serveA.url, state: join(root, 'state-serve'), npmrc: npmExtra })
      assert.equal(second.code, 0, `${client} through serve:\n${second.stdout}\n${second.stderr}\n${serveA.output.slice(-2000)}`)
      const written = await readLockfile(client, viaServe)
      const changes = diff(expected, written)
      console.log(`# ${client}: lockfile through serve against the upstream's: ${changes === '' ? 'identical' : `\n${changes.replace(/^/gm, '#   ')}`}`)
      assert.equal(written, portable(client, expected), `${client}'s lockfile through serve is not the upstream's`)
      assert.ok(!written.includes(serveA.url.replace(/\/$/, '')), 'no serve URL in the lockfile')
      if (client !== 'npm') assert.ok(!written.includes('127.0.0.1'), 'no loopback address in the lockfile')
      const after = await status(serveA)
      const kind = KIND[client]
      assert.equal((after.http.byClient[kind]?.tarballs ?? 0) - (before.http.byClient[kind]?.tarballs ?? 0), TARBALLS, `serve served every tarball to ${client}`)

      // serve B: it has resolved this project before (its HTTP cache holds the packuments), but
      // holds no tarball, and its upstream is dead; serve A, which now holds them all, is its peer
      const serveB = await startServe({ cwd: work, args: [...await serveConfig(`serve-b-${client}`), '--peer', serveA.address] })
      try {
        for (const name of NAMES) {
          const res = await fetch(`${serveB.url}${name.replace('/', '%2f')}`, { headers: { accept: ABBREVIATED } })
          assert.equal(res.status, 200)
          await res.arrayBuffer()
        }
        await upstream.down()
        const frozen = await project(join(root, 'from-peer'), { client, text: written })
        const third = await installWith({ client, cwd: frozen, registry: serveB.url, state: join(root, 'state-peer'), frozen: true, npmrc: npmExtra })
        assert.equal(third.code, 0, `${client} from a peer:\n${third.stdout}\n${third.stderr}\n${serveB.output.slice(-3000)}`)
        assert.equal(await readLockfile(client, frozen), written, 'a frozen install leaves the lockfile as it was')
        assert.ok((await readdir(join(frozen, 'node_modules'))).includes('alpha'))
        const fromPeer = await status(serveB)
        assert.equal(fromPeer.http.byClient[kind]?.tarballs, TARBALLS, `serve B served every tarball to ${client}`)
        assert.equal(fromPeer.http.byOrigin.peers?.tarballs, TARBALLS, 'every tarball came from the peer')
        assert.equal(fromPeer.http.saved.tarballs, TARBALLS, 'none came from the registry')
      } finally {
        await upstream.up()
        await serveB.stop()
      }
    })
  }
})
