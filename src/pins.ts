/**
 * Pinned tarballs: ones this machine keeps serving whatever happens to npm's cache. npm's cache is
 * the blockstore, and `npm cache clean --force` deletes it; so a pin keeps its own copy beside it
 * (`<cache>/_ipfs-npm/pins/`, one file per tarball, named by its sha512, and `pins.json`), and a
 * long-lived `serve` puts pinned tarballs back into the cache whenever they are missing from it.
 */
import { watch, type FSWatcher } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TarballCache } from './types.ts'

export interface Pin {
  name: string
  version: string
  /** sha512 SRI of the tarball. */
  integrity: string
  /** The CID peers fetch it by (raw block, or UnixFS root when > 1 MiB). */
  cid: string
}

export interface PinStore {
  list(): Promise<Pin[]>
  /** Keeps `bytes` (already verified against `pin.integrity`) under the pin; replaces a pin of the same tarball. */
  add(pin: Pin, bytes: Uint8Array): Promise<void>
  /** Removes the pins `what` names (`name`, `name@version` or a CID); returns them. */
  remove(what: string): Promise<Pin[]>
  /** The kept bytes of a pin, or undefined when its copy is gone. */
  bytes(pin: Pin): Promise<Uint8Array | undefined>
}

/** `cacheDir` is npm's cache dir. */
export function createPinStore (cacheDir: string): PinStore {
  const dir = join(cacheDir, '_ipfs-npm', 'pins')
  const listFile = join(dir, 'pins.json')
  const fileOf = (pin: Pin): string => join(dir, `${Buffer.from(pin.integrity.replace(/^sha512-/, ''), 'base64').toString('hex')}.tgz`)

  const list = async (): Promise<Pin[]> => {
    try {
      return JSON.parse(await readFile(listFile, 'utf8')) as Pin[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }
  /** Written whole and renamed into place: a serve reading it never sees half a list. */
  const save = async (pins: Pin[]): Promise<void> => {
    await mkdir(dir, { recursive: true })
    const tmp = `${listFile}.${process.pid}`
    await writeFile(tmp, `${JSON.stringify(pins, null, 2)}\n`)
    await rename(tmp, listFile)
  }
  const matches = (pin: Pin, what: string): boolean =>
    what === pin.cid || what === `ipfs://${pin.cid}` || what === pin.name || what === `${pin.name}@${pin.version}`

  return {
    list,
    async add (pin, bytes) {
      await mkdir(dir, { recursive: true })
      await writeFile(fileOf(pin), bytes)
      await save([...(await list()).filter((each) => each.integrity !== pin.integrity), pin])
    },
    async remove (what) {
      const pins = await list()
      const removed = pins.filter((pin) => matches(pin, what))
      await save(pins.filter((pin) => !matches(pin, what)))
      await Promise.all(removed.map(async (pin) => rm(fileOf(pin), { force: true })))
      return removed
    },
    async bytes (pin) {
      try {
        return new Uint8Array(await readFile(fileOf(pin)))
      } catch {
        return undefined
      }
    },
  }
}

export interface PinKeeperInit {
  store: PinStore
  cache: TarballCache
  /** npm's cache dir, watched for `_cacache` being deleted (`npm cache clean --force`). */
  cacheDir: string
  /** Makes the tarball servable by its CID again (a large one's DAG blocks live in the cache too). */
  addTarball(bytes: Uint8Array): Promise<unknown>
  log(message: string): void
  /** How often the cache is checked besides when it is deleted; default 60 s. */
  intervalMs?: number
}

/** Puts pinned tarballs back into npm's cache whenever they are missing from it, until stopped. */
export function keepPins (init: PinKeeperInit): { stop(): void } {
  const { store, cache } = init
  let running: Promise<void> | undefined
  let again = false
  const restore = async (): Promise<void> => {
    for (const pin of await store.list()) {
      if (await cache.has(pin.integrity)) continue
      const bytes = await store.bytes(pin)
      if (bytes === undefined) {
        init.log(`pin ${pin.name}@${pin.version}: its kept copy is gone; pin it again`)
        continue
      }
      await cache.put(pin, bytes)
      await init.addTarball(bytes)
      init.log(`pin ${pin.name}@${pin.version}: put back into npm's cache`)
    }
  }
  /** One check at a time; a change seen during one runs another right after. */
  const check = (): void => {
    if (running !== undefined) {
      again = true
      return
    }
    running = restore().catch((err: Error) => init.log(`pins: ${err.message}`)).finally(() => {
      running = undefined
      if (again) {
        again = false
        check()
      }
    })
  }
  check()
  const timer = setInterval(check, init.intervalMs ?? 60_000)
  timer.unref()
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(init.cacheDir, (_event, file) => { if (file === '_cacache') check() })
    watcher.on('error', () => watcher?.close())
  } catch {
    // no cache dir yet, or no inotify: the interval still checks
  }
  return {
    stop () {
      clearInterval(timer)
      watcher?.close()
    },
  }
}
