/** Temp dirs under the OS temp dir (shared by everyone on the machine: always unique names). */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A fresh dir `ipfs-npm-<prefix>-XXXXXX`; when `cleanup` is given, a step removing it is added to it.
 *
 * @example
 * const work = await tempDir('shim-test')
 * after(() => removeDir(work))
 */
export async function tempDir (prefix: string, cleanup?: Array<() => Promise<void>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ipfs-npm-${prefix}-`))
  cleanup?.push(async () => removeDir(dir))
  return dir
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
