/**
 * Fixture packages for the test registry: every folder `test/fixtures/packages/<name>@<version>/`
 * (scoped: `@scope/<name>@<version>/`) packed into a real npm tarball with pacote, exactly as
 * `npm pack` packs it. Packing is deterministic (pacote's fixed mtime and gzip level), so the
 * committed fixture lockfiles' integrities stay valid; packed tarballs are cached on disk by the
 * hash of their inputs so later test files and runs skip the packing.
 *
 * A folder may hold a `fixture.json` (never packed) that asks for things not committed:
 * - `randomFiles: { "<file>": <bytes> }`: incompressible bytes from a seeded generator, so a
 *   > 1 MiB package needs no committed blob yet packs to the same integrity every time;
 * - `bundle: ["<name>@<version>"]`: other fixture folders copied into `node_modules/` before
 *   packing, for `bundleDependencies`.
 */
import { createHash } from 'node:crypto'
import { chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tempDir } from './temp-dir.ts'

/** One packed fixture package, as the registry serves it. */
export interface PackedPackage {
  name: string
  version: string
  /** The package.json inside the tarball. */
  manifest: Record<string, unknown>
  tarball: Buffer
  /** `sha512-…` of the tarball. */
  integrity: string
  /** Hex sha1 of the tarball. */
  shasum: string
  /** The tarball's file name in registry URLs: `<name without scope>-<version>.tgz`. */
  filename: string
}

/** What `fixture.json` may ask for. */
interface FixtureExtras {
  randomFiles?: Record<string, number>
  bundle?: string[]
}

/** The fixture package folders that ship with the tests. */
export const fixturePackagesDir = join(import.meta.dirname, '..', 'fixtures', 'packages')

const require = createRequire(import.meta.url)
const pacote = require('pacote') as {
  tarball(spec: string, opts: Record<string, unknown>): Promise<Buffer>
}
const Arborist: unknown = require('@npmcli/arborist')
const pacoteVersion = (require('pacote/package.json') as { version: string }).version

/** Bumped when the packing recipe changes, so stale cached tarballs are not reused. */
const recipeVersion = 2

/**
 * Packs every fixture package under `dir` (default: the committed fixtures). Memoised per
 * process and directory; tarballs are cached under the OS temp dir by content.
 */
export function loadFixturePackages (dir: string = fixturePackagesDir): Promise<PackedPackage[]> {
  let loaded = memo.get(dir)
  if (loaded === undefined) {
    loaded = packAll(dir)
    memo.set(dir, loaded)
  }
  return loaded
}

const memo = new Map<string, Promise<PackedPackage[]>>()

async function packAll (dir: string): Promise<PackedPackage[]> {
  const folders = await listPackageFolders(dir)
  const cacheDir = join(tmpdir(), 'ipfs-npm-fixture-tarballs')
  await mkdir(cacheDir, { recursive: true })
  return Promise.all(folders.map(async folder => packOne(dir, folder, cacheDir)))
}

/** Folder names relative to `dir`: `name@version` and `@scope/name@version`. */
async function listPackageFolders (dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    if (entry.name.startsWith('@')) {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true })) {
        if (inner.isDirectory()) found.push(`${entry.name}/${inner.name}`)
      }
    } else {
      found.push(entry.name)
    }
  }
  return found.sort()
}

async function packOne (dir: string, folder: string, cacheDir: string): Promise<PackedPackage> {
  const source = join(dir, folder)
  const extras = await readExtras(source)
  const bundled = (extras.bundle ?? []).map(spec => join(dir, spec))
  const key = createHash('sha256')
    .update(JSON.stringify({ recipeVersion, pacoteVersion, extras, folder }))
    .update(await hashFolder(source))
  for (const b of bundled) key.update(await hashFolder(b))
  const cached = join(cacheDir, `${key.digest('hex')}.tgz`)

  let tarball: Buffer
  try {
    tarball = await readFile(cached)
  } catch {
    tarball = await pack(source, folder, extras, bundled)
    // Write then rename, so a concurrent test file never reads half a tarball.
    const partial = `${cached}.${process.pid}.partial`
    await writeFile(partial, tarball)
    await rename(partial, cached)
  }
  const manifest = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as Record<string, unknown>
  const name = String(manifest.name)
  const version = String(manifest.version)
  if (folder !== `${name}@${version}`) throw new Error(`fixture folder ${folder} holds ${name}@${version}`)
  return {
    name,
    version,
    manifest,
    tarball,
    integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
    shasum: createHash('sha1').update(tarball).digest('hex'),
    filename: `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`,
  }
}

async function readExtras (source: string): Promise<FixtureExtras> {
  try {
    return JSON.parse(await readFile(join(source, 'fixture.json'), 'utf8')) as FixtureExtras
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
}

/** Stages the folder (extras applied, `fixture.json` dropped) and packs it as `npm pack` would. */
async function pack (source: string, folder: string, extras: FixtureExtras, bundled: string[]): Promise<Buffer> {
  const staging = await tempDir('fixture-pack')
  try {
    await cp(source, staging, { recursive: true })
    await rm(join(staging, 'fixture.json'), { force: true })
    for (const [file, size] of Object.entries(extras.randomFiles ?? {})) {
      await writeFile(join(staging, file), seededBytes(`${folder}/${file}`, size))
    }
    for (const b of bundled) {
      const manifest = JSON.parse(await readFile(join(b, 'package.json'), 'utf8')) as { name: string }
      await cp(b, join(staging, 'node_modules', manifest.name), { recursive: true })
    }
    await normaliseModes(staging)
    return await pacote.tarball(`file:${staging}`, { Arborist, ignoreScripts: true })
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/**
 * 644 for files, 755 for executables and folders: the tar records modes, and a checkout under
 * another umask must not change the tarballs the committed lockfiles' integrities describe.
 */
async function normaliseModes (root: string): Promise<void> {
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name)
    const executable = entry.isDirectory() || ((await stat(path)).mode & 0o111) !== 0
    await chmod(path, executable ? 0o755 : 0o644)
  }
}

/** Deterministic, incompressible bytes: sha512 in counter mode over a seed. */
function seededBytes (seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  for (let offset = 0, counter = 0; offset < size; counter++) {
    const block = createHash('sha512').update(`${seed}:${counter}`).digest()
    offset += block.copy(out, offset)
  }
  return out
}

/** Hash of every file's relative path, mode and bytes under `folder`. */
async function hashFolder (folder: string): Promise<string> {
  const hash = createHash('sha256')
  const files = (await readdir(folder, { recursive: true })).sort()
  for (const file of files) {
    const path = join(folder, file)
    const info = await stat(path)
    if (!info.isFile()) continue
    hash.update(`${file}\0${info.mode & 0o111 ? 'x' : '-'}\0`).update(await readFile(path)).update('\0')
  }
  return hash.digest('hex')
}
