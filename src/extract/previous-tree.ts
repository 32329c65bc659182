/**
 * `ci` over an existing node_modules. npm deletes the old tree and then creates every file again;
 * on ext4 creating files right after a mass delete is slow (the inode allocator walks the inodes
 * just freed). Instead, each node_modules is moved aside in one rename, the install lays out a
 * new tree as into a fresh folder, and the extractor moves back every old file whose bytes and
 * mode are exactly what it would write (./unpack.ts): no inode is freed or allocated for it.
 * What is left of the old tree — edited, extra and changed files — is deleted at the end. The
 * result is a clean install's tree; a reused file keeps its old mtime.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import { processAlive } from '../process-alive.ts'

export interface PreviousTree {
  /** Where the package folder `dest` of the new tree was in the old one, if it was there. */
  at(dest: string): string | undefined
  /** Deletes what is left of the old tree. */
  remove(): Promise<void>
}

export interface MoveAsideInit {
  /** The node_modules folders to empty (the root's and every workspace's). */
  dirs: string[]
  /**
   * Where old trees go, on the same file system as the project for a rename: a folder under
   * npm's cache, so the project never shows a stray folder. Elsewhere, old trees are deleted
   * in place first, as npm does.
   */
  trash: string
}

/** npm ci's emptying of node_modules, done in place: each entry deleted. */
async function emptyInPlace (dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[])
  await Promise.all(entries.map((entry) => rm(join(dir, entry), { force: true, recursive: true })))
}

/**
 * Moves every folder of `init.dirs` that exists out of the project.
 *
 * @example
 * const previous = await moveAside({ dirs: [join(root, 'node_modules')], trash: join(cache, '_ipfs-npm', 'trash') })
 * // … install …
 * await previous.remove()
 */
export async function moveAside (init: MoveAsideInit): Promise<PreviousTree> {
  const run = join(init.trash, `${process.pid}-${randomBytes(4).toString('hex')}`)
  await mkdir(run, { recursive: true })
  const moved = new Map<string, string>()
  await Promise.all(init.dirs.map(async (dir, i) => {
    const info = await lstat(dir).catch(() => undefined)
    if (info === undefined) return
    const target = join(run, String(i))
    try {
      // a link stays for npm's way: its target emptied, then the link replaced by Arborist
      if (!info.isDirectory()) throw new Error('not a folder')
      await rename(dir, target)
      moved.set(dir, target)
      // npm empties node_modules but keeps it: a failed install leaves it there, empty
      await mkdir(dir)
    } catch {
      await emptyInPlace(dir)
    }
  }))
  return {
    at (dest) {
      for (const [dir, target] of moved) {
        const rel = relative(dir, dest)
        if (rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep)) return join(target, rel)
      }
      return undefined
    },
    async remove () {
      // with what killed runs left behind
      const left = await readdir(init.trash).catch(() => [] as string[])
      const dead = left.filter((name) => name !== basename(run) && !processAlive(Number(name.split('-')[0])))
      await Promise.all([run, ...dead.map((name) => join(init.trash, name))].map((path) => rm(path, { recursive: true, force: true })))
    },
  }
}
