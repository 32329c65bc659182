/**
 * Messages between the main thread (src/peers.ts) and the IPFS node's worker thread
 * (src/ipfs/worker.ts). Types only: the main thread never loads libp2p.
 */
import type { IpfsNpmOptions, TarballRef } from '../types.ts'
import type { NodeInfo } from './index.ts'

/** What the worker starts its node with (`workerData`). */
export interface WorkerInit {
  cacheDir: string
  options: IpfsNpmOptions
}

export type ToWorker =
  | { kind: 'fetch', id: number, ref: TarballRef }
  | { kind: 'hint', integrity: string, cid: string }
  | { kind: 'stop' }

export type FromWorker =
  | { kind: 'started', info: NodeInfo }
  | { kind: 'failed', message: string, code?: string }
  /** `data` is undefined when no peer had the tarball within the bounded wait. */
  | { kind: 'fetched', id: number, data?: Uint8Array }
  /** A fresh snapshot, sent when it changed (at most every INFO_INTERVAL ms). */
  | { kind: 'info', info: NodeInfo }
  | { kind: 'log', message: string }
  | { kind: 'stopped' }

/** How often the worker checks whether the node's info changed. */
export const INFO_INTERVAL = 200
