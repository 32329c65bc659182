/**
 * Keeps this machine's own index reachable while `ipfs-npm serve` runs. `publish --index` is a
 * short-lived process: it signs the index's next record, announces it and exits, and an IPNS
 * record is only found while some peer holds it. So a serve on the same cache re-publishes the
 * index (the next sequence over the same root: a fresh record it then serves to every peer that
 * asks) when it starts and whenever a publish elsewhere on this cache moves the index's root
 * (its publisher state, `_ipfs-npm/indexes/<name>.json`, is watched).
 */
import { watch, type FSWatcher } from 'node:fs'
import { access, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The part of a writable index this needs (src/metadata/signed-index.ts's WritableIndex). */
export interface AnnouncedIndex {
  readonly name: string
  publish(): Promise<unknown>
}

export interface IndexAnnouncerInit {
  /** `<cache>/_ipfs-npm`. */
  stateDir: string
  /** Opens this cache's own index afresh (its published state re-read). */
  open(): Promise<AnnouncedIndex>
  log(message: string): void
}

export interface IndexAnnouncer {
  /** The indexes this serve publishes, as `/ipns/<name>`. */
  names(): string[]
  stop(): void
}

/** Starts announcing; an index never published on this cache is left alone until one is. */
export async function announceIndexes (init: IndexAnnouncerInit): Promise<IndexAnnouncer> {
  const dir = join(init.stateDir, 'indexes')
  const keyFile = join(init.stateDir, 'index-keys', 'default.key')
  let name: string | undefined
  let announcedRoot: string | undefined
  let running: Promise<void> = Promise.resolve()

  const rootOf = async (indexName: string): Promise<string | undefined> => {
    try {
      return (JSON.parse(await readFile(join(dir, `${indexName}.json`), 'utf8')) as { root?: string }).root
    } catch {
      return undefined
    }
  }

  /** Re-publishes when the root moved since we last did (our own publish moves only the sequence). */
  const check = (): void => {
    running = running.then(async () => {
      // no key yet: nothing was ever published from this cache, and opening would make one
      if (!await access(keyFile).then(() => true, () => false)) return
      const index = await init.open()
      const root = await rootOf(index.name)
      if (root === undefined || root === announcedRoot) return
      await index.publish()
      name = index.name
      announcedRoot = root
      init.log(`/ipns/${index.name}: announcing root ${root}`)
    }).catch((err: Error) => init.log(err.message))
  }

  await mkdir(dir, { recursive: true })
  check()
  await running
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dir, () => check())
    watcher.on('error', () => watcher?.close())
  } catch {
    // no inotify: the index is announced as it was when serve started
  }
  return {
    names: () => name === undefined ? [] : [`/ipns/${name}`],
    stop () {
      watcher?.close()
    },
  }
}
