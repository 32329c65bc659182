/**
 * A worker thread of the extraction pool (./pool.ts): unpacks each tarball it is sent and
 * answers with the result or the error, one at a time.
 */
import { parentPort } from 'node:worker_threads'
import { discard, unpack, type UnpackTask } from './unpack.ts'

parentPort?.on('message', (task: UnpackTask) => {
  try {
    parentPort!.postMessage({ result: unpack(task) })
  } catch (err) {
    const { message, code } = err as NodeJS.ErrnoException
    parentPort!.postMessage({ error: { message, code } })
  } finally {
    // the message's copy of the bytes is this thread's alone
    if (task.tarball instanceof Uint8Array) discard(task.tarball)
  }
})
