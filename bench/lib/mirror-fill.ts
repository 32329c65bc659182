/**
 * Fills the bench's registry mirror, once and outside any timing, from the npm registry: the
 * abbreviated packument of every package a lockfile names and every tarball it installs,
 * verified against the lockfile's integrity. Tarball URLs in packuments are rewritten to a
 * placeholder that the mirror server replaces with its own address, so one mirror directory
 * serves on loopback and behind the shaped link alike. Files already there are kept.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import ssri from 'ssri'
import type { LockTarball } from './lockfile.ts'

/** What packuments say instead of the mirror's base URL (with its trailing slash). */
export const MIRROR_PLACEHOLDER = '{{ipfs-npm-bench-mirror}}/'

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'

export interface MirrorFillInit {
  /** The mirror directory (`packuments/`, `tarballs/`). */
  dir: string
  /** The upstream registry, with a trailing slash, read from npm's config at run time. */
  upstream: string
  tarballs: readonly LockTarball[]
  log: (msg: string) => void
}

/** Where a packument is stored: one file per package name. */
export function packumentFile (dir: string, name: string): string {
  return join(dir, 'packuments', `${name.replace('/', '%2f')}.json`)
}

/** Where a tarball is stored: its registry path (`name/-/file.tgz`) under `tarballs/`. */
export function tarballFile (dir: string, registryPath: string): string {
  return join(dir, 'tarballs', registryPath)
}

async function writeAtomic (file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, data)
  await rename(tmp, file)
}

async function fetchOk (url: string, accept: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { headers: { accept } })
      if (res.ok) return res
      if (res.status < 500 || attempt >= 3) throw new Error(`${res.status} ${res.statusText} for ${url}`)
    } catch (err) {
      if (attempt >= 3) throw err
    }
  }
}

/** What the mirror holds of one lockfile. */
export interface MirrorContents {
  /** Total tarball bytes, how many tarballs, the largest, how many over 1 MiB. */
  bytes: number
  count: number
  largest: number
  overOneMiB: number
  /** `name@version` → the tarball's path on the registry (`name/-/file.tgz`). */
  paths: Map<string, string>
}

/** Fills the mirror with what the lockfile's tarballs need. */
export async function fillMirror (init: MirrorFillInit): Promise<MirrorContents> {
  const { dir, upstream, log } = init
  const packuments = new Map<string, Promise<Record<string, { dist?: { tarball?: string } }>>>()
  const packument = (name: string): Promise<Record<string, { dist?: { tarball?: string } }>> => {
    let p = packuments.get(name)
    if (p === undefined) {
      p = (async () => {
        const file = packumentFile(dir, name)
        let text: string
        if (existsSync(file)) {
          text = await readFile(file, 'utf8')
        } else {
          const res = await fetchOk(`${upstream}${name.replace('/', '%2f')}`, CORGI)
          text = (await res.text()).replaceAll(upstream, MIRROR_PLACEHOLDER)
          await writeAtomic(file, text)
        }
        return (JSON.parse(text) as { versions: Record<string, { dist?: { tarball?: string } }> }).versions
      })()
      packuments.set(name, p)
    }
    return p
  }

  const stats = { bytes: 0, count: 0, largest: 0, overOneMiB: 0, fetched: 0 }
  const paths = new Map<string, string>()
  const queue = [...init.tarballs]
  const worker = async (): Promise<void> => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      try {
        const url = (await packument(t.name))[t.version]?.dist?.tarball
        if (url === undefined || !url.startsWith(MIRROR_PLACEHOLDER)) throw new Error(`${t.name}@${t.version}: no tarball in the packument`)
        const path = url.slice(MIRROR_PLACEHOLDER.length)
        paths.set(`${t.name}@${t.version}`, path)
        const file = tarballFile(dir, path)
        let data: Uint8Array
        if (existsSync(file)) {
          data = await readFile(file)
        } else {
          data = new Uint8Array(await (await fetchOk(`${upstream}${path}`, '*/*')).arrayBuffer())
          if (ssri.checkData(Buffer.from(data), t.integrity) === false) {
            throw new Error(`${t.name}@${t.version}: tarball does not match the lockfile's integrity (sha256 ${createHash('sha256').update(data).digest('hex')})`)
          }
          await writeAtomic(file, data)
          stats.fetched++
        }
        stats.bytes += data.byteLength
        stats.count++
        stats.largest = Math.max(stats.largest, data.byteLength)
        if (data.byteLength > 1024 * 1024) stats.overOneMiB++
      } catch (err) {
        if (!t.optional) throw err
        log(`mirror: skipping optional ${t.name}@${t.version}: ${(err as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 12 }, worker))
  if (stats.fetched > 0) log(`mirror: fetched ${stats.fetched} tarballs from the npm registry`)
  return { bytes: stats.bytes, count: stats.count, largest: stats.largest, overOneMiB: stats.overOneMiB, paths }
}
