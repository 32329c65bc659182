/**
 * Where the bench puts the trees and caches it clears between runs, so that no timed run starts
 * right after a mass delete. On ext4 without a journal (this machine's), an inode freed in the
 * last 60 s (360 s while its inode-table block is dirty, until writeback: ~30 s) is skipped by the
 * allocator, one buffer-cache lookup each (`recently_deleted`): here creating 30,000 files took 6
 * times the system time 65 s after 30,000 were deleted, and no more than with no delete nearby
 * 130 s after (SETTLE_MS). A user's fresh clone pays none of that, and a harness that deletes
 * right before each run charges it to whichever tool runs next, more to one that creates more
 * files (a cold cache). So a cleared path is moved aside (a rename: no inode freed) and the
 * moved trees are deleted in batches, each followed by a pause; a timed run that deletes a tree
 * itself (`npm ci` over an existing node_modules) is followed by the same pause.
 */
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * How long after a mass delete the next timed run waits. The kernel's 60 s is not what this
 * machine shows: 30,000 files took 0.50 s of system time to create with no delete nearby, 2.97 s
 * 65 s after 30,000 were deleted and 0.45 s 130 s after; after 90,000, 3.32 s at 65 s, 2.23 s at
 * 100 s, 0.48 s at 130 s. At 65 s the monorepo's LAN-peer run right after a pause used 7.8-10.5 s
 * of system time, 2.9-3.9 s in the other rounds (40 s before that left ~1.8× the CPU).
 */
export const SETTLE_MS = 130_000

export interface Trash {
  /** Moves `path` (if it exists) out of the way without deleting anything. */
  discard(path: string): Promise<void>
  /** Something (a timed re-install) just deleted a tree. */
  deleted(): void
  /**
   * Before a timed run: deletes what the trash holds when that is more than `maxTrees` paths, or
   * when there is a pause to wait out anyway; then waits until SETTLE_MS have passed since the
   * last delete.
   */
  settle(maxTrees?: number): Promise<void>
}

/** A trash under `dir` (on the same filesystem as the paths discarded, for the rename). */
export function createTrash (dir: string, settleMs = SETTLE_MS): Trash {
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
    async settle (maxTrees = 0) {
      if (held > maxTrees || (held > 0 && performance.now() - lastDelete < settleMs)) {
        await rm(dir, { recursive: true, force: true })
        held = 0
        lastDelete = performance.now()
      }
      const wait = lastDelete + settleMs - performance.now()
      if (wait > 0) await sleep(wait)
    },
  }
}
