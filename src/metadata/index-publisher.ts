/**
 * `serve --index`: the packuments a serve hands its clients go into this machine's own signed
 * index, each version with its tarball's `dist.cid` when the tarball is here (raw CID up to
 * 1 MiB, UnixFS root above), and the index is re-published a moment after the last change — one
 * new record for a burst of packuments, not one each — and every `refresh` anyway, well before
 * its record expires. Packuments from registries npm sends
 * credentials to never go in: an index is readable by anyone who knows its name.
 */
import { createHash } from 'node:crypto'
import type { Packument } from './index-format.ts'
import type { SharingPolicy } from '../sharing.ts'
import type { WritableIndex } from './signed-index.ts'

export interface IndexPublisherInit {
  index: WritableIndex
  /** The CID of the tarball with `integrity`, when this machine has it. */
  cidOf(integrity: string, pkg: { name: string, version: string }): Promise<string | undefined>
  /** Whether a packument is private (src/sharing.ts): such ones stay out of the index. */
  isPrivate: SharingPolicy['isPrivate']
  /** How long after the last change the index is re-published, in ms. */
  debounce: number
  /** How often the record is re-signed even when nothing changed (records expire), in ms. */
  refresh: number
  log(msg: string): void
}

export interface IndexPublisher {
  /** A packument the registry served (as text), for `name` from `registry`. */
  add(name: string, registry: string, text: string): void
  /** Publishes what is pending now and stops refreshing; settles when done. */
  flush(): Promise<void>
}

export function createIndexPublisher (init: IndexPublisherInit): IndexPublisher {
  const { index, log } = init
  /** Digest of the last text added per package: a packument served again unchanged costs nothing. */
  const seen = new Map<string, string>()
  let work: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined

  const publish = (always = false): Promise<void> => {
    timer = undefined
    work = work.then(async () => {
      if (!index.changed && !always) return
      try {
        const { sequence, root } = await index.publish()
        log(`index ${index.name}: sequence ${sequence}, root ${root}`)
      } catch (err) {
        log(`index ${index.name}: publishing failed: ${(err as Error).message}`)
      }
    })
    return work
  }

  async function addNow (name: string, text: string): Promise<void> {
    let packument: Packument
    try {
      packument = JSON.parse(text) as Packument
    } catch {
      return
    }
    if (packument?.name !== name || typeof packument.versions !== 'object' || packument.versions === null) return
    const versions = Object.fromEntries(await Promise.all(Object.entries(packument.versions).map(async ([version, manifest]) => {
      const integrity = manifest?.dist?.integrity
      const cid = typeof integrity === 'string' ? await init.cidOf(integrity, { name, version }).catch(() => undefined) : undefined
      return [version, cid === undefined ? manifest : { ...manifest, dist: { ...manifest.dist, cid } }] as const
    })))
    await index.addPackument({ ...packument, versions })
  }

  const refresher = setInterval(() => void publish(true), init.refresh)
  refresher.unref()

  return {
    add (name, registry, text) {
      if (init.isPrivate({ name, url: registry })) return
      const digest = createHash('sha256').update(text).digest('base64')
      if (seen.get(name) === digest) return
      seen.set(name, digest)
      work = work.then(() => addNow(name, text)).catch((err: Error) => log(`index ${index.name}: adding ${name}: ${err.message}`))
      clearTimeout(timer)
      timer = setTimeout(() => void publish(), init.debounce)
    },
    async flush () {
      clearTimeout(timer)
      clearInterval(refresher)
      await publish()
    },
  }
}
