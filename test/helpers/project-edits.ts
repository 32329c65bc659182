/**
 * Small edits conformance cases make to a project before both tools run on it.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrepareContext } from './conformance.ts'

/** Rewrites a JSON file of the project as npm formats it (2 spaces, final newline). */
export async function editJson (dir: string, file: string, edit: (doc: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, file)
  const doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  edit(doc)
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`)
}

/** Removes files or folders of the project. */
export async function removePaths (dir: string, ...paths: string[]): Promise<void> {
  await Promise.all(paths.map(path => rm(join(dir, path), { recursive: true, force: true })))
}

/** Cuts a JSON file off in the middle, as an interrupted editor or merge would leave it. */
export async function truncateJson (dir: string, file: string): Promise<void> {
  const path = join(dir, file)
  const text = await readFile(path, 'utf8')
  await writeFile(path, text.slice(0, Math.floor(text.length / 2)))
}

/** Runs the real npm in the project (e.g. a previous install), failing loudly if it fails. */
export async function npmBefore (dir: string, context: PrepareContext, args: string[]): Promise<void> {
  const result = await context.npm(args, dir)
  if (result.code !== 0) throw new Error(`npm ${args.join(' ')} failed while preparing:\n${result.stderr}`)
}
