/**
 * Where the bench puts the trees and caches it clears between runs, so that no timed run starts
 * right after a mass delete. On ext4 without a journal (this machine's), an inode freed in the
 * last 60 s (360 s while its inode-table block is dirty, until writeback: ~30 s) is skipped by the
 * allocator, one buffer-cache lookup each (`recently_deleted`): creating 10,000 files just after
 * deleting 10,000 takes about 5 times as long as a minute later (3.5 s against 0.7 s here). A user's fresh clone pays none of that, and a harness that deletes
 * right before each run charges it to whichever tool runs next, more to one that creates more
 * files (a cold cache). So a cleared path is moved aside (a rename: no inode freed) and the
 * moved trees are deleted in batches, each followed by a pause; a timed run that deletes a tree
 * itself (`npm ci` over an existing node_modules) is followed by the same pause.
 */
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * How long after a mass delete the next timed run waits: the kernel's 60 s and a margin. 40 s was
 * too short: LAN-peer rounds right after a pause used ~1.8× the CPU of the others.
 */
export const SETTLE_MS = 65_000

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
