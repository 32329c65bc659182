/**
 * The `version` in each of many package.json files, as ./kept-tree.ts compares it with the
 * lockfile. Reading and parsing the 1,250 kept package.json files of the monorepo takes about
 * 65 ms of the main thread, while Arborist builds the ideal tree there; a worker thread reads them
 * instead (about 9 ms of the main thread: starting it and taking its answer), and the answer is
 * awaited only after the ideal tree is built. If no worker can be started, they are read here.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

/** A folder's package.json `version`, in a one-element array (it may be absent), or null when the file cannot be read or parsed. */
export type PackageVersion = [unknown] | null

/**
 * The reading itself, on whichever thread runs it: self-contained (its source is the worker's
 * script), one synchronous read each.
 */
function versionsIn (folders: readonly string[], read: (path: string, encoding: 'utf8') => string, packageJson: (folder: string) => string): PackageVersion[] {
  const versions: PackageVersion[] = []
  for (const folder of folders) {
    try {
      versions.push([(JSON.parse(read(packageJson(folder), 'utf8')) as { version?: unknown }).version])
    } catch {
      versions.push(null)
    }
  }
  return versions
}

const WORKER_SOURCE = `const { parentPort, workerData } = require('node:worker_threads')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
parentPort.postMessage((${versionsIn.toString()})(workerData, readFileSync, (folder) => join(folder, 'package.json')))`

/** Each folder's package.json version, read on this thread. */
export function readPackageVersionsHere (folders: readonly string[]): PackageVersion[] {
  return versionsIn(folders, readFileSync, (folder) => join(folder, 'package.json'))
}

/**
 * Each folder's package.json version (in the order given), read on a worker thread.
 *
 * @example
 * const [alpha] = await readPackageVersions(['/p/node_modules/alpha'])
 * alpha !== null && alpha[0] === '1.1.0'
 */
export async function readPackageVersions (folders: readonly string[]): Promise<PackageVersion[]> {
  if (folders.length === 0) return []
  let worker: Worker
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: folders, stdout: true, stderr: true })
  } catch {
    return readPackageVersionsHere(folders)
  }
  try {
    return await new Promise<PackageVersion[]>((resolve, reject) => {
      worker.once('message', (versions: PackageVersion[]) => resolve(versions))
      worker.once('error', reject)
      worker.once('exit', () => reject(new Error('the reading worker stopped without an answer')))
    })
  } catch {
    return readPackageVersionsHere(folders)
  } finally {
    void worker.terminate()
  }
}
