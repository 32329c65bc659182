/**
 * LAN peers for the bench: `ipfs-npm serve` processes on loopback, each serving its own copy of
 * a warm npm cache (as a colleague's machine that has run `npm ci` once would).
 */
import { createServer, type AddressInfo } from 'node:net'
import { startService, type Service } from './service.ts'
import { toolEnv, type Toolchain } from './tools.ts'

export interface Peer {
  /** Its multiaddr with `/p2p/<id>`, on 127.0.0.1. */
  address: string
  /** The port of its registry shim (`/-/ipfs-npm/info`). */
  port: number
  service: Service
}

export interface PeerInit {
  tools: Toolchain
  cache: string
  userconfig: string
  home: string
  cwd: string
  /** NODE_OPTIONS for the peer (the profiler). */
  nodeOptions?: string
}

/** A port free right now on 127.0.0.1. */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** What `GET /-/ipfs-npm/info` says. */
export interface PeerInfo {
  peerId: string
  addresses: string[]
  peers: string[]
  served: { blocks: number, bytes: number }
  /** Tarballs made servable so far, and still to do (large ones' DAGs to build). */
  seeding?: { tarballs: number, pending: number }
}

export async function peerInfo (port: number): Promise<PeerInfo> {
  const res = await fetch(`http://127.0.0.1:${port}/-/ipfs-npm/info`)
  if (!res.ok) throw new Error(`peer info: HTTP ${res.status}`)
  return await res.json() as PeerInfo
}

/** Starts one `ipfs-npm serve` and learns its address. */
export async function startPeer (init: PeerInit): Promise<Peer> {
  const port = await freePort()
  const service = await startService({
    command: init.tools.node,
    args: [init.tools.ipfsNpm, 'serve', '--port', String(port), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns',
      '--userconfig', init.userconfig, '--cache', init.cache],
    cwd: init.cwd,
    env: toolEnv(init.home, init.nodeOptions === undefined ? {} : { NODE_OPTIONS: init.nodeOptions }),
    ready: /Serving npm's cache/,
    timeoutMs: 60_000,
  })
  try {
    const address = (await peerInfo(port)).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))
    if (address === undefined) throw new Error('the peer listens on no loopback address')
    await seeded(port, 120_000)
    return { address, port, service }
  } catch (err) {
    await service.stop()
    throw err
  }
}

/**
 * Waits until the peer has made its whole cache servable (the monorepo's 33 large tarballs are
 * DAGs to build): a timed run must not share the 2 cores with that, nor find a DAG half built.
 */
async function seeded (port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const { seeding } = await peerInfo(port)
    if (seeding === undefined || (seeding.tarballs > 0 && seeding.pending === 0)) return
    if (Date.now() > until) throw new Error(`the peer still prepares ${seeding.pending} tarballs after ${timeoutMs / 1000} s`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
