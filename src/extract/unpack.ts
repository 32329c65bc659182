/**
 * Unpacks one package tarball into its folder with the fewest system calls: gunzip in one go
 * (Node's zlib), read the layout (./tar.ts), then one mkdir per folder and open+write+close per
 * file — no stat per file, no streams. Synchronous: it runs on a worker thread of the pool.
 */
import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { isMarkedAsUntransferable } from 'node:worker_threads'
import { gunzipSync } from 'node:zlib'
import type { CachedFile } from '../types.ts'
import { readLayout, UnusualTarball, type LayoutOptions } from './tar.ts'

/** What the pool sends a worker: a tarball and where to unpack it. */
export interface UnpackTask extends LayoutOptions {
  /** The package folder, already emptied and created as pacote does. */
  dest: string
  /**
   * The tarball's bytes, verified against its integrity; or npm's cache file of them, which the
   * worker reads and verifies itself (the main thread neither reads, hashes nor copies them).
   */
  tarball: Uint8Array | CachedFile
  /**
   * The package's folder in the tree this install replaces (./previous-tree.ts): a file there
   * with exactly the bytes and mode to write is moved over instead of written.
   */
  previous?: string
  /** The process umask, which the kernel applies to the mode of every file created. */
  processUmask: number
}

/**
 * `unpacked`; `unusual` with why: the tarball is pacote's to unpack; `unread`: its cache file is
 * gone or does not match its hash, so the caller gets the bytes another way. Nothing was
 * written but for `unpacked`.
 */
export type UnpackResult = { unpacked: true } | { unusual: string } | { unread: string }

/** tar's `maxDecompressionRatio`: a gzip bomb is pacote's to refuse. */
const MAX_RATIO = 1000
const GZIP = [0x1f, 0x8b]
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW

/** tar's `dmode` for folders it creates: `0o777` less pacote's umask, always owner-rwx. */
function dirMode (umask: number): number {
  return (0o777 & ~umask) | 0o700
}

/**
 * Largest output chunk zlib is asked to allocate at once (a real tarball's data: 51 MB at most
 * on the monorepo). Allocated, not yet touched: a trailer claiming more costs no memory.
 */
const MAX_CHUNK = 256 * 1024 * 1024

/**
 * The gzip trailer's size of the data (ISIZE) as zlib's chunk size: the output then comes in one
 * chunk, not thousands of 16 KiB ones joined at the end (the monorepo's 1,101 tarballs: 1.7 s
 * instead of 2.9 s). A wrong trailer only means more chunks.
 */
function outputChunk (gzip: Uint8Array): number {
  const isize = gzip.length >= 18 ? Buffer.from(gzip.buffer, gzip.byteOffset, gzip.byteLength).readUInt32LE(gzip.length - 4) : 0
  return Math.max(64, Math.min(isize + 1, gzip.length * MAX_RATIO, MAX_CHUNK))
}

let scratch = Buffer.alloc(64 * 1024)

/** Moves `old` to `path` when it is a plain file holding exactly `data` with exactly `mode`. */
function reuse (old: string, path: string, data: Uint8Array, mode: number): boolean {
  let fd: number
  try {
    fd = openSync(old, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch {
    return false
  }
  try {
    const info = fstatSync(fd)
    if (!info.isFile() || info.nlink !== 1 || info.size !== data.length || (info.mode & 0o7777) !== mode) return false
    if (scratch.length < data.length) scratch = Buffer.alloc(data.length)
    for (let read = 0; read < data.length;) {
      const n = readSync(fd, scratch, read, data.length - read, read)
      if (n === 0) return false
      read += n
    }
    if (Buffer.compare(scratch.subarray(0, data.length), data) !== 0) return false
  } finally {
    closeSync(fd)
  }
  renameSync(old, path)
  return true
}

/** The bytes of a cache file when they match the hash naming it (cacache's own check on a read). */
function readVerified (file: CachedFile): Uint8Array | undefined {
  const dash = file.sri.indexOf('-')
  let data: Uint8Array
  try {
    data = readFileSync(file.path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return createHash(file.sri.slice(0, dash)).update(data).digest('base64') === file.sri.slice(dash + 1) ? data : undefined
}

/**
 * Frees a large buffer at once instead of at its thread's next garbage collection. A worker
 * allocates little besides tarballs, so it collects rarely, and meanwhile glibc (whose mmap
 * threshold rises with every large block freed) serves the next tarballs from heaps it keeps:
 * the monorepo's cold install peaked at 632 MB with every buffer left to the collector, 528 with
 * them freed (by hand, load 3; npm's peak: 577-588). Never a slice of Node's shared pools (zlib's
 * small outputs come from one), which Node marks untransferable. The caller must own the buffer:
 * every view of it is emptied.
 */
export function discard (view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer & { detached: boolean, transfer(length: number): ArrayBuffer }
  if (buffer instanceof ArrayBuffer && buffer.byteLength >= 64 * 1024 && !buffer.detached && !isMarkedAsUntransferable(buffer)) buffer.transfer(0)
}

/** Unpacks `task`; fs errors throw (the caller then leaves the package to pacote). */
export function unpack (task: UnpackTask): UnpackResult {
  // what unpacking allocates (the cache file's bytes, the gunzipped tar) is freed as it ends
  const allocated: Uint8Array[] = []
  try {
    return unpackInto(task, allocated)
  } finally {
    for (const view of allocated) discard(view)
  }
}

function unpackInto (task: UnpackTask, allocated: Uint8Array[]): UnpackResult {
  const tarball = task.tarball instanceof Uint8Array ? task.tarball : readVerified(task.tarball)
  if (tarball === undefined) return { unread: 'cache file missing or not matching its hash' }
  if (tarball !== task.tarball) allocated.push(tarball)
  let tar: Uint8Array
  if (tarball[0] === GZIP[0] && tarball[1] === GZIP[1]) {
    try {
      tar = gunzipSync(tarball, { chunkSize: outputChunk(tarball) })
      allocated.push(tar)
    } catch (err) {
      return { unusual: `gunzip: ${(err as Error).message}` }
    }
    if (tar.length > tarball.length * MAX_RATIO) return { unusual: 'decompression ratio' }
  } else if (tarball[0] === 0x28 && tarball[1] === 0xb5) {
    return { unusual: 'zstd' }
  } else {
    tar = tarball
  }
  let layout
  try {
    layout = readLayout(tar, task)
  } catch (err) {
    if (err instanceof UnusualTarball) return { unusual: err.message }
    throw err
  }

  const mode = dirMode(task.umask)
  for (const dir of layout.dirs) {
    const path = join(task.dest, dir)
    try {
      mkdirSync(path, mode)
    } catch (err) {
      // a nested package's folder (node_modules) may already be there; never write through a link
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !lstatSync(path).isDirectory()) throw err
    }
  }
  const written = new Set<string>()
  for (const file of layout.files) {
    const path = join(task.dest, file.path)
    // a path written twice keeps its first mode: only a first write may take an old file's place
    const first = !written.has(file.path)
    written.add(file.path)
    if (first && task.previous !== undefined && reuse(join(task.previous, file.path), path, file.data, file.mode & ~task.processUmask)) continue
    const fd = openSync(path, WRITE_FLAGS, file.mode)
    try {
      for (let written = 0; written < file.data.length;) {
        written += writeSync(fd, file.data, written, file.data.length - written)
      }
    } finally {
      closeSync(fd)
    }
  }
  return { unpacked: true }
}
