/**
 * Where the bench puts the trees and caches it clears between runs, so that no timed run starts
 * right after a mass delete. On ext4 without a journal (this machine's), an inode freed in the
 * last 60 s (360 s while its inode-table block is dirty, until writeback: ~30 s) is skipped by the
 * allocator, one buffer-cache lookup each (`recently_deleted`): creating 10,000 files just after
 * deleting 10,000 takes about 5 times as long as a minute later (3.5 s against 0.7 s here). A user's fresh clone pays none of that, and a harness that deletes
 * right before each run charges it to whichever tool runs next, more to one that creates more
 * files (a cold cache). So a cleared path is moved aside (a rename: no inode freed) and the moved trees
 * are deleted after the last timed run, or mid-run (followed by a pause) only when the disk runs
 * short: a pause does not cover a batch of real trees (85,000 paths deleted still cost 5× the
 * system time to create 30,000 files 130 s later and 1.2× 300 s later), and the first run after
 * each batch used 2-3× the system time of the others. A timed run that deletes a tree itself
 * (`npm ci` over an existing node_modules) is followed by the pause.
 */
import { mkdir, rename, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * How long after a mass delete the next timed run waits: the kernel's 60 s and a margin. 40 s was
 * too short: LAN-peer rounds right after a pause used ~1.8× the CPU of the others.
 */
export const SETTLE_MS = 65_000
/** The free space below which the trash is emptied mid-run. */
export const MIN_FREE_BYTES = 20 * 2 ** 30

export interface Trash {
  /** Moves `path` (if it exists) out of the way without deleting anything. */
  discard(path: string): Promise<void>
  /** Something (a timed re-install) just deleted a tree. */
  deleted(): void
  /**
   * Before a timed run: deletes what the trash holds if the disk has less than `minFree` bytes
   * free; then waits until `settleMs` have passed since the last delete.
   */
  settle(): Promise<void>
  /** After the last timed run: deletes what the trash holds. */
  empty(): Promise<void>
}

export interface TrashOptions {
  /** Default SETTLE_MS. */
  settleMs?: number
  /** Default MIN_FREE_BYTES. */
  minFree?: number
}

/** A trash under `dir` (on the same filesystem as the paths discarded, for the rename). */
export function createTrash (dir: string, options: TrashOptions = {}): Trash {
  const { settleMs = SETTLE_MS, minFree = MIN_FREE_BYTES } = options
  let held = 0
  let lastDelete = -Infinity
  return {
    async discard (path) {
      await mkdir(dir, { recursive: true })
      try {
        await rename(path, join(dir, String(held)))
        held++
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    },
    deleted () {
      lastDelete = performance.now()
    },
    async settle () {
      if (held > 0) {
        const fs = await statfs(dir)
        if (fs.bavail * fs.bsize < minFree) {
          await this.empty()
          lastDelete = performance.now()
        }
      }
      const wait = lastDelete + settleMs - performance.now()
      if (wait > 0) await sleep(wait)
    },
    async empty () {
      await rm(dir, { recursive: true, force: true })
      held = 0
    },
  }
}
