/**
 * The pool of worker threads that unpack tarballs (./unpack.ts), one tarball per worker at a
 * time. A tarball's bytes are loaded only once a place in the pool is free, so however many
 * packages reify asks for at once, at most `2 × size` tarballs are held in memory.
 */
import { availableParallelism } from 'node:os'
import { isMarkedAsUntransferable, Worker } from 'node:worker_threads'
import type { UnpackResult, UnpackTask } from './unpack.ts'

export interface ExtractPoolInit {
  /** Worker threads; default: as many as the machine has cores. */
  size?: number
  /**
   * Workers started at once rather than for the first tasks (default 0): a pool sure to be used
   * boots them while its caller still has other work (reify loads its trees first).
   */
  warm?: number
}

export interface ExtractPool {
  readonly size: number
  /**
   * Waits for a place in the pool, then calls `load` for the task (reading the tarball now, not
   * before) and unpacks it on the first free worker. The task's bytes are given to the worker:
   * the caller's view of them is emptied. `bytes`, the tarball's size when known: of the tasks
   * waiting for a place, the largest goes first.
   */
  run(load: () => Promise<UnpackTask>, bytes?: number): Promise<UnpackResult>
  /** Ends the workers; tasks still queued are rejected. */
  close(): Promise<void>
}

/** The worker's script: beside this module in src/, `extract-worker.js` in the bundle. */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './extract-worker.js', import.meta.url)

/**
 * The bytes as a view the worker can take without a copy: their whole buffer moves to it. A clone
 * would be serialized then deserialized (the monorepo's 178 MiB: 0.4-0.7 s of the main thread), and
 * a copy of our own costs a memcpy into fresh pages (0.6 s): only a view of a larger buffer, or of
 * Node's shared pool, is copied.
 */
function movable (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const { buffer } = bytes
  const whole = buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength
  return whole && !isMarkedAsUntransferable(buffer) ? new Uint8Array(buffer) : new Uint8Array(bytes)
}

interface Pending { resolve(result: UnpackResult): void, reject(err: Error): void }
interface PoolWorker { worker: Worker, pending: Pending | undefined }

/**
 * @example
 * const pool = createExtractPool({ size: 2 })
 * await pool.run(async () => ({ dest, tarball, fmode: 0o666, umask: 0, allowGitIgnore: false }))
 */
export function createExtractPool (init: ExtractPoolInit = {}): ExtractPool {
  const size = Math.max(1, init.size ?? availableParallelism())
  const workers: PoolWorker[] = []
  const idle: PoolWorker[] = []
  const waitingForWorker: Array<(w: PoolWorker) => void> = []
  /**
   * Largest first: a large tarball queued behind hundreds of small ones (arrived last, as a 33 MB
   * one from a peer does) was unpacked alone at the end while the other workers idled.
   */
  const waitingForPlace: Array<{ bytes: number, resolve: () => void }> = []
  let places = size * 2
  let closed = false

  const spawn = (): PoolWorker => {
    const entry: PoolWorker = { worker: new Worker(workerUrl), pending: undefined }
    entry.worker.on('message', (message: { result?: UnpackResult, error?: { message: string, code?: string } }) => {
      const pending = entry.pending
      entry.pending = undefined
      release(entry)
      if (message.error !== undefined) pending?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
      else pending?.resolve(message.result!)
    })
    entry.worker.on('error', (err) => {
      entry.pending?.reject(err)
      entry.pending = undefined
    })
    // a worker that died (out of memory…) is replaced for whoever waits for one
    entry.worker.on('exit', () => {
      workers.splice(workers.indexOf(entry), 1)
      if (idle.includes(entry)) idle.splice(idle.indexOf(entry), 1)
      entry.pending?.reject(new Error('extraction worker exited'))
      entry.pending = undefined
      if (!closed && waitingForWorker.length > 0) waitingForWorker.shift()!(spawn())
    })
    workers.push(entry)
    return entry
  }

  const acquire = (): Promise<PoolWorker> => {
    const free = idle.pop()
    if (free !== undefined) return Promise.resolve(free)
    if (workers.length < size) return Promise.resolve(spawn())
    return new Promise((resolve) => waitingForWorker.push(resolve))
  }

  const release = (entry: PoolWorker): void => {
    const next = waitingForWorker.shift()
    if (next !== undefined) return next(entry)
    // an idle worker must not keep the process alive; a busy one must
    entry.worker.unref()
    idle.push(entry)
  }

  const place = async (bytes: number): Promise<void> => {
    if (places > 0) {
      places--
      return
    }
    await new Promise<void>((resolve) => waitingForPlace.push({ bytes, resolve }))
  }

  const freePlace = (): void => {
    if (waitingForPlace.length === 0) {
      places++
      return
    }
    let largest = 0
    for (let i = 1; i < waitingForPlace.length; i++) if (waitingForPlace[i]!.bytes > waitingForPlace[largest]!.bytes) largest = i
    waitingForPlace.splice(largest, 1)[0]!.resolve()
  }

  for (let i = Math.min(size, init.warm ?? 0); i > 0; i--) release(spawn())

  return {
    size,
    async run (load, bytes = 0) {
      await place(bytes)
      try {
        const task = await load()
        const own = task.tarball instanceof Uint8Array ? movable(task.tarball) : undefined
        const entry = await acquire()
        if (closed) throw new Error('extraction pool closed')
        entry.worker.ref()
        return await new Promise<UnpackResult>((resolve, reject) => {
          entry.pending = { resolve, reject }
          try {
            if (own === undefined) entry.worker.postMessage(task)
            else entry.worker.postMessage({ ...task, tarball: own }, [own.buffer])
          } catch (err) {
            // nothing reached the worker (bytes it cannot be sent): it is free for the next task
            entry.pending = undefined
            release(entry)
            reject(err)
          }
        })
      } finally {
        freePlace()
      }
    },
    async close () {
      closed = true
      await Promise.all([...workers].map(({ worker }) => worker.terminate()))
    },
  }
}
