/**
 * Snapshots of a directory tree (every file's bytes hash and mode, every symlink's target, every
 * directory and its mode) and a readable diff between two, for "same node_modules as npm" and
 * "nothing of the user's files lost" assertions.
 */
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export type TreeEntry =
  | { type: 'dir', mode: number }
  | { type: 'file', sha256: string, mode: number, size: number }
  | { type: 'symlink', target: string }

/** Entries by path relative to the snapshot's root, `/`-separated, sorted. */
export type TreeSnapshot = Map<string, TreeEntry>

/** Walks `root` without following symlinks. A missing root is an empty snapshot. */
export async function snapshotTree (root: string): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = new Map()
  const walk = async (rel: string): Promise<void> => {
    let names: string[]
    try {
      names = (await readdir(rel === '' ? root : join(root, rel))).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const info = await lstat(abs)
      if (info.isSymbolicLink()) {
        snapshot.set(path, { type: 'symlink', target: await readlink(abs) })
      } else if (info.isDirectory()) {
        snapshot.set(path, { type: 'dir', mode: info.mode & 0o7777 })
        await walk(path)
      } else {
        const bytes = await readFile(abs)
        snapshot.set(path, {
          type: 'file',
          sha256: createHash('sha256').update(bytes).digest('hex'),
          mode: info.mode & 0o7777,
          size: bytes.length,
        })
      }
    }
  }
  await walk('')
  return snapshot
}

/**
 * One line per difference, e.g. `only in npm: node_modules/x/index.js`,
 * `node_modules/.bin/x: symlink -> ../x/cli.js (npm) vs ../x/bin.js (ipfs-npm)`.
 */
export function diffTrees (a: TreeSnapshot, b: TreeSnapshot, labels: [string, string]): string[] {
  const lines: string[] = []
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort()
  for (const path of paths) {
    const x = a.get(path)
    const y = b.get(path)
    if (x === undefined) lines.push(`only in ${labels[1]}: ${path} (${describe(y!)})`)
    else if (y === undefined) lines.push(`only in ${labels[0]}: ${path} (${describe(x)})`)
    else if (describe(x) !== describe(y)) {
      lines.push(`${path}: ${describe(x)} (${labels[0]}) vs ${describe(y)} (${labels[1]})`)
    }
  }
  return lines
}

function describe (entry: TreeEntry): string {
  switch (entry.type) {
    case 'dir': return entry.mode === 0o755 ? 'directory' : `directory mode ${entry.mode.toString(8)}`
    case 'symlink': return `symlink -> ${entry.target}`
    case 'file': return `file ${entry.size} B sha256 ${entry.sha256.slice(0, 12)} mode ${entry.mode.toString(8)}`
  }
}
