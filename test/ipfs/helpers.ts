/**
 * Shared set-up for the IPFS tests: npm caches filled by the real `npm`, packed test packages,
 * nodes on loopback, and node processes (for killing mid-transfer and for network namespaces).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import cacache from 'cacache'
import ssri from 'ssri'
import { createIpfsNode, type IpfsNode, type IpfsNodeInit } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'

const run = promisify(execFile)
export const FIXTURE = '/work/shared/fixtures/small'
export const PEER_PROCESS = new URL('./peer-process.ts', import.meta.url).pathname

/** A temp dir removed by `cleanup`. */
export async function tempDir (cleanup: Array<() => Promise<void>>, prefix = 'ipfs-npm-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.push(async () => rm(dir, { recursive: true, force: true }))
  return dir
}

let registry: string | undefined
/** The npm registry URL as the machine's npm is configured (read once). */
export async function registryUrl (): Promise<string> {
  registry ??= (await run('npm', ['config', 'get', 'registry'])).stdout.trim()
  return registry
}

/** A userconfig holding only the registry, so the machine's ~/.npmrc plays no part. */
export async function userconfig (dir: string): Promise<string> {
  const file = join(dir, 'npmrc')
  await writeFile(file, `registry=${await registryUrl()}\nupdate-notifier=false\naudit=false\nfund=false\n`)
  return file
}

/** Every tarball of a lockfile. */
export async function lockfileRefs (dir: string): Promise<TarballRef[]> {
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, integrity?: string, link?: boolean }> }
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.integrity !== undefined && entry.link !== true)
    .map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ''), version: entry.version ?? '', integrity: entry.integrity ?? '' }))
}

/** A cache filled by plain `npm ci` of the small fixture; returns its dir and the lockfile's tarballs. */
export async function npmCiCache (dir: string): Promise<{ cacheDir: string, refs: TarballRef[] }> {
  const project = join(dir, 'project')
  await mkdir(project, { recursive: true })
  await cp(join(FIXTURE, 'package.json'), join(project, 'package.json'))
  await cp(join(FIXTURE, 'package-lock.json'), join(project, 'package-lock.json'))
  const cacheDir = join(dir, 'npm-cache')
  await run('npm', ['ci', '--userconfig', await userconfig(dir), '--cache', cacheDir, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project })
  return { cacheDir, refs: await lockfileRefs(project) }
}

/** A real `npm pack` of a generated package holding `size` incompressible bytes. */
export async function packRandomPackage (dir: string, name: string, size: number): Promise<{ ref: TarballRef, data: Buffer }> {
  const pkg = join(dir, `pkg-${name}`)
  await mkdir(pkg, { recursive: true })
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0', files: ['blob.bin'] }))
  await writeFile(join(pkg, 'blob.bin'), randomBytes(size))
  const { stdout } = await run('npm', ['pack', '--json', '--userconfig', await userconfig(dir), '--pack-destination', dir], { cwd: pkg })
  const [packed] = JSON.parse(stdout) as Array<{ filename: string, integrity: string }>
  const data = await readFile(join(dir, packed!.filename))
  return { ref: { name, version: '1.0.0', integrity: packed!.integrity }, data }
}

/** Puts a tarball into an npm cache the way npm's fetcher does (content under the integrity's algorithm). */
export async function putTarball (cacheDir: string, ref: TarballRef, data: Uint8Array): Promise<void> {
  const algorithm = ssri.parse(ref.integrity).pickAlgorithm()
  await cacache.put(join(cacheDir, '_cacache'), `make-fetch-happen:request-cache:https://registry.invalid/${ref.name}/-/${ref.name}-${ref.version}.tgz`, data, { integrity: ref.integrity, algorithms: [algorithm] })
}

export const LOOPBACK: IpfsNodeInit['options'] = { peers: [], listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], peerTimeout: 2000 }

/** Starts a node on loopback; stopped by `cleanup`. */
export async function startNode (cleanup: Array<() => Promise<void>>, cacheDir: string, options: Partial<IpfsNodeInit['options']> = {}): Promise<IpfsNode> {
  const log = process.env.IPFS_NPM_TEST_LOG === undefined ? undefined : (msg: string) => console.error(`[${cacheDir}] ${msg}`)
  const node = await createIpfsNode({ cacheDir, options: { ...LOOPBACK, ...options }, log })
  cleanup.push(async () => node.stop())
  return node
}

/** Resolves once `node` is connected to `count` peers (rejects after `ms`). */
export async function waitForPeers (node: IpfsNode, count: number, ms = 5000): Promise<void> {
  await waitUntil(() => node.info().peers.length >= count, `not connected to ${count} peers after ${ms} ms`, ms)
}

/** Waits until `node` is connected to the peer `peerId` (other peers may connect first). */
export async function waitForPeer (node: IpfsNode, peerId: string, ms = 5000): Promise<void> {
  await waitUntil(() => node.info().peers.includes(peerId), `not connected to ${peerId} after ${ms} ms`, ms)
}

async function waitUntil (done: () => boolean, message: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(message)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Runs every cleanup step, last registered first. */
export async function runCleanup (cleanup: Array<() => Promise<void>>): Promise<void> {
  for (const step of cleanup.reverse()) await step().catch(() => {})
  cleanup.length = 0
}

/** A node in a child process (peer-process.ts); each JSON line it prints is delivered to `lines`. */
export interface PeerProcess {
  child: ChildProcess
  /** The next printed JSON object satisfying `test`. */
  next<T = any>(test: (line: any) => boolean, ms?: number): Promise<T>
}

/** Spawns peer-process.ts with `config`, optionally under a command prefix (e.g. `ip netns exec ns`). */
export function spawnPeer (cleanup: Array<() => Promise<void>>, config: object, prefix: string[] = []): PeerProcess {
  const argv = [...prefix, process.execPath, PEER_PROCESS, JSON.stringify(config)]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })
  const seen: any[] = []
  const waiters: Array<() => void> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      seen.push(JSON.parse(line))
    } catch {
      return
    }
    for (const wake of waiters.splice(0)) wake()
  })
  return {
    child,
    async next (test, ms = 20_000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = seen.find(test)
        if (found !== undefined) return found
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`peer process: no matching line (exit ${child.exitCode})`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
    },
  }
}
