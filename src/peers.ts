/**
 * The IPFS side, started on first need, on a worker thread. Nothing of Helia or libp2p is loaded
 * until a tarball is actually missing from npm's cache, so a warm install, and every passthrough
 * command, costs nothing extra (DESIGN: "the node is started only if something is missing"); once
 * started, its CPU work runs beside Arborist's instead of between it (src/ipfs/worker.ts).
 */
import { Worker } from 'node:worker_threads'
import type { IpfsNode, NodeInfo } from './ipfs/index.ts'
import type { FromWorker, ToWorker, WorkerInit } from './ipfs/worker-protocol.ts'
import type { IpfsNpmOptions, LazyPeers, PeerFetcher, TarballRef } from './types.ts'

export interface LazyPeersInit {
  /** npm's cache dir (the `cache` config): node state lives in `<cache>/_ipfs-npm/`. */
  cacheDir: string
  options: IpfsNpmOptions
  /** npm's `--offline`: the cache only, no peers. */
  offline: boolean
  log: (message: string) => void
}

/** The worker's script: its own bundle in dist/, or the TypeScript source when run from src/. */
const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('./ipfs/worker.ts', import.meta.url) : new URL('./ipfs-worker.js', import.meta.url)

/**
 * Starts the node on a worker thread. Its `info()` is the worker's latest snapshot, at most
 * INFO_INTERVAL ms old; a fetch still pending when the worker ends finds nothing.
 */
function startWorkerNode (init: LazyPeersInit): Promise<IpfsNode> {
  const workerInit: WorkerInit = { cacheDir: init.cacheDir, options: init.options }
  const worker = new Worker(WORKER_URL, { workerData: workerInit })
  const pending = new Map<number, (data: Uint8Array | undefined) => void>()
  let nextId = 0
  let alive = true
  let info: NodeInfo | undefined
  let stopping: Promise<void> | undefined
  const post = (message: ToWorker): void => worker.postMessage(message)
  const exited = new Promise<void>((resolve) => worker.once('exit', () => {
    alive = false
    for (const done of pending.values()) done(undefined)
    pending.clear()
    resolve()
  }))

  const peers: PeerFetcher = {
    fetch (ref: TarballRef) {
      if (!alive) return Promise.resolve(undefined)
      return new Promise((resolve) => {
        const id = nextId++
        pending.set(id, resolve)
        post({ kind: 'fetch', id, ref })
      })
    },
    hint (integrity, cid) {
      if (alive) post({ kind: 'hint', integrity, cid })
    },
  }
  const node: IpfsNode = {
    peers,
    info: () => info as NodeInfo,
    stop () {
      stopping ??= (async () => {
        if (alive) post({ kind: 'stop' })
        await exited
      })()
      return stopping
    },
  }

  return new Promise((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      if (message.kind === 'fetched') {
        const done = pending.get(message.id)
        pending.delete(message.id)
        done?.(message.data)
      } else if (message.kind === 'log') {
        init.log(message.message)
      } else if (message.kind === 'info' || message.kind === 'started') {
        info = message.info
        if (message.kind === 'started') resolve(node)
      } else if (message.kind === 'failed') {
        reject(Object.assign(new Error(message.message), { code: message.code }))
      } else {
        // stopped: whatever handles the node left behind must not keep the process alive
        void worker.terminate()
      }
    })
    worker.on('error', (err) => {
      init.log(`ipfs: the node's worker failed: ${err.message}`)
      reject(err)
    })
    void exited.then(() => reject(new Error('the IPFS node\'s worker ended before it started')))
  })
}

/**
 * @example
 * const peers = createLazyPeers({ cacheDir, options, offline: false, log })
 * const fetcher = await peers.get() // starts the node now, once
 */
export function createLazyPeers (init: LazyPeersInit): LazyPeers & { node(): Promise<IpfsNode | undefined>, hint(integrity: string, cid: string): void } {
  let starting: Promise<IpfsNode | undefined> | undefined
  // `dist.cid` hints seen before the node starts; they must not start it themselves
  const hints = new Map<string, string>()

  const node = (): Promise<IpfsNode | undefined> => {
    if (init.offline) return Promise.resolve(undefined)
    starting ??= startWorkerNode(init).then((started) => {
      for (const [integrity, cid] of hints) started.peers.hint?.(integrity, cid)
      hints.clear()
      return started
    })
    return starting
  }

  return {
    node,
    hint (integrity, cid) {
      if (starting === undefined) hints.set(integrity, cid)
      else void starting.then((started) => started?.peers.hint?.(integrity, cid), () => {})
    },
    get started () {
      return starting !== undefined
    },
    async get (): Promise<PeerFetcher | undefined> {
      return (await node())?.peers
    },
    async stop () {
      const started = await starting?.catch(() => undefined)
      await started?.stop()
    },
  }
}
