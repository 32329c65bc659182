/**
 * Shared set-up for the IPFS tests: npm caches filled by the real `npm` from a fixture registry, packed test packages,
 * nodes on loopback, and node processes (for killing mid-transfer and for network namespaces).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import cacache from 'cacache'
import ssri from 'ssri'
import { createIpfsNode, type IpfsNode, type IpfsNodeInit } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { loadFixturePackages } from '../helpers/fixture-packages.ts'
import { startRegistry } from '../helpers/registry.ts'
import { tempDir as makeTempDir } from '../helpers/temp-dir.ts'

const run = promisify(execFile)
export const PEER_PROCESS = new URL('./peer-process.ts', import.meta.url).pathname

/** A temp dir removed by `cleanup`. */
export async function tempDir (cleanup: Array<() => Promise<void>>, prefix = 'test'): Promise<string> {
  return makeTempDir(prefix, cleanup)
}

/** A user config with nothing of this machine's in it (npm pack and the fixture registry need no more). */
export async function userconfig (dir: string, registry?: string): Promise<string> {
  const file = join(dir, 'npmrc')
  await writeFile(file, `${registry === undefined ? '' : `registry=${registry}\n`}update-notifier=false\naudit=false\nfund=false\n`)
  return file
}

/** Every tarball of a lockfile. */
export async function lockfileRefs (dir: string): Promise<TarballRef[]> {
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, integrity?: string, link?: boolean }> }
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.integrity !== undefined && entry.link !== true)
    .map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ''), version: entry.version ?? '', integrity: entry.integrity ?? '' }))
}

/** How many packages the IPFS tests' cache holds, and their sizes: like the shared small fixture (79, 1–30 KB). */
const SET_SIZE = 79
const sizeOf = (i: number): number => 1500 + (i * 7919) % 30_000

/**
 * A cache filled by plain `npm install` of a project depending on SET_SIZE generated packages,
 * from a fixture registry on loopback (hermetic: the machine's registry plays no part). The
 * packages' bytes are seeded, so they pack the same every run and the packing is cached on disk.
 * Returns the cache dir and the lockfile's tarballs.
 */
export async function npmCiCache (dir: string): Promise<{ cacheDir: string, refs: TarballRef[] }> {
  const sources = join(dir, 'packages')
  const names = Array.from({ length: SET_SIZE }, (_, i) => `ipfs-test-pkg-${String(i).padStart(2, '0')}`)
  await Promise.all(names.map(async (name, i) => {
    const folder = join(sources, `${name}@1.0.0`)
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', files: ['data.bin'] }, null, 2)}\n`)
    await writeFile(join(folder, 'fixture.json'), JSON.stringify({ randomFiles: { 'data.bin': sizeOf(i) } }))
  }))
  const registry = await startRegistry({ packages: await loadFixturePackages(sources) })
  const project = join(dir, 'project')
  const cacheDir = join(dir, 'npm-cache')
  try {
    await mkdir(project, { recursive: true })
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'ipfs-test-project', version: '1.0.0', dependencies: Object.fromEntries(names.map((name) => [name, '1.0.0'])) }))
    await run('npm', ['install', '--userconfig', await userconfig(dir, registry.url), '--cache', cacheDir, '--ignore-scripts'], { cwd: project })
  } finally {
    await registry.stop()
  }
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

/** An address of a node through a proxy (handshakeProxy). */
export interface NodeProxy {
  /** The node's address through the proxy, with its peer id. */
  via: string
  peerId: string
  /** Cuts every connection the proxy carries (a drop); the proxy takes new ones. */
  cut(): void
}

/**
 * An address of `node` through a proxy that takes each connection at once, as a live host does,
 * and holds its first bytes (the handshake's) for `holdMs` before passing them on: a slow peer.
 */
export async function handshakeProxy (cleanup: Array<() => Promise<void>>, node: IpfsNode, holdMs: number): Promise<NodeProxy> {
  const [, , , , port, , peerId] = node.info().addresses[0]!.split('/')
  const sockets = new Set<Socket>()
  const proxy = createServer((client) => {
    client.pause()
    setTimeout(() => {
      const upstream = connect(Number(port), '127.0.0.1')
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
      client.resume()
    }, holdMs)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const cut = (): void => { for (const socket of sockets) socket.destroy() }
  cleanup.push(async () => {
    cut()
    proxy.close()
  })
  return { via: `/ip4/127.0.0.1/tcp/${(proxy.address() as AddressInfo).port}/p2p/${peerId}`, peerId: peerId!, cut }
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
