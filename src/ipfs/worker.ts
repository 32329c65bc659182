/**
 * The IPFS node on a worker thread. libp2p's encryption, multiplexing and block hashing take a
 * few hundred ms of CPU per install; on the main thread they competed with Arborist's planning and
 * extraction, now they use the second core. Loading the libp2p bundle happens here too.
 * Protocol: src/ipfs/worker-protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createIpfsNode } from './index.ts'
import { INFO_INTERVAL, type FromWorker, type ToWorker, type WorkerInit } from './worker-protocol.ts'

const port = parentPort
if (port === null) throw new Error('src/ipfs/worker.ts runs as a worker thread')
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer)
const init = workerData as WorkerInit

try {
  const node = await createIpfsNode({ ...init, log: (message) => send({ kind: 'log', message }) })
  let last = JSON.stringify(node.info())
  send({ kind: 'started', info: node.info() })
  const infoTimer = setInterval(() => {
    const info = node.info()
    const text = JSON.stringify(info)
    if (text !== last) send({ kind: 'info', info })
    last = text
  }, INFO_INTERVAL)
  port.on('message', (message: ToWorker) => {
    if (message.kind === 'fetch') {
      void node.peers.fetch(message.ref).then((data) => {
        if (data === undefined) return send({ kind: 'fetched', id: message.id })
        // a copy of its own: `data` may be a view into a larger message buffer
        const copy = new Uint8Array(data)
        send({ kind: 'fetched', id: message.id, data: copy }, [copy.buffer])
      }, (err: Error) => {
        send({ kind: 'log', message: `ipfs: ${message.ref.name}@${message.ref.version}: ${err.message}` })
        send({ kind: 'fetched', id: message.id })
      })
    } else if (message.kind === 'hint') {
      node.peers.hint?.(message.integrity, message.cid)
    } else {
      clearInterval(infoTimer)
      void node.stop().finally(() => {
        send({ kind: 'stopped' })
        port.close()
      })
    }
  })
} catch (err) {
  send({ kind: 'failed', message: (err as Error).message, code: (err as { code?: string }).code })
  port.close()
}
