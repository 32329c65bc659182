/**
 * A package tarball's layout, read the way pacote has `tar` unpack it (pacote's
 * `lib/fetcher.js` `#tarxOptions`, tar 7's `Parser`/`Header`/`Unpack`): the first path
 * component stripped, links and every entry that is not a file skipped, `.gitignore` renamed to
 * `.npmignore` unless one was seen, every file at least `fmode`, never more than `umask`
 * allows, and read/writable by its owner. No I/O: the worker writes what this returns.
 *
 * Only well-formed archives are read here. Anything about which `tar` would warn, fail or take
 * care (a bad checksum, a truncated body, a `..` or absolute path, a global pax header, a file
 * where a folder must go, base-256 numbers…) returns a reason instead, and the caller leaves
 * that tarball to pacote, so its files, warnings and errors are exactly npm's.
 */

/** One file to write: where (relative to the package folder, `/`-separated), its mode and bytes. */
export interface TarFile {
  path: string
  mode: number
  data: Uint8Array
}

export interface TarLayout {
  /** Folders to create, parents first, relative to the package folder. */
  dirs: string[]
  /** Files in archive order; a path may come twice (the later bytes win, the first mode stays). */
  files: TarFile[]
}

export interface LayoutOptions {
  /** pacote's `fmode` (default 0o666). */
  fmode: number
  /** npm's `umask` config as pacote applies it (default 0). */
  umask: number
  /** pacote's `allowGitIgnore`: keep `.gitignore` as it is. */
  allowGitIgnore: boolean
}

/** Thrown for an archive this reader leaves to pacote; the message says why. */
export class UnusualTarball extends Error {}

const BLOCK = 512
/** tar's `maxMetaEntrySize`: a longer pax or GNU long-name entry is skipped by tar. */
const MAX_META = 1024 * 1024
/** tar's `maxDepth`. */
const MAX_DEPTH = 1024
/** Type flags of file system entries (tar's `normalFsTypes`): pending pax fields apply to these. */
const NORMAL_TYPES = new Set(['0', '', '1', '2', '3', '4', '5', '6', '7', 'D'])
/** Entries `tar` knows and pacote's filter drops: links, folders, devices, FIFOs. */
const SKIPPED_TYPES = new Set(['1', '2', '3', '4', '5', '6', 'D'])
/** Type flags tar parses but never extracts (its ReadEntry `ignore`). */
const IGNORED_TYPES = new Set(['M', 'V', 'S', 'A', 'E', 'I', 'O', 'C', 'F'])
/** Pax keys whose values change nothing pacote writes. */
const INERT_PAX = new Set(['path', 'linkpath', 'size', 'mode', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'charset', 'comment', 'dev', 'ino', 'nlink'])

const decoder = new TextDecoder()

function text (buf: Uint8Array, off: number, size: number): string {
  const s = decoder.decode(buf.subarray(off, off + size))
  // tar's decString: cut at the first NUL (to the end of that line)
  return s.replace(/\0.*/, '')
}

/** tar's small-number decoding (octal text); base-256 numbers are left to tar. */
function octal (buf: Uint8Array, off: number, size: number): number | undefined {
  if ((buf[off]! & 0x80) !== 0) throw new UnusualTarball('base-256 number in a header')
  const n = parseInt(text(buf, off, size).replace(/\0.*$/, '').trim(), 8)
  return Number.isNaN(n) ? undefined : n
}

function isNullBlock (buf: Uint8Array, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false
  return true
}

function checksum (buf: Uint8Array, off: number): number {
  let sum = 8 * 0x20
  for (let i = off; i < off + 148; i++) sum += buf[i]!
  for (let i = off + 156; i < off + BLOCK; i++) sum += buf[i]!
  return sum
}

/** tar's pax record parsing (`Pax.parse`), for the keys it keeps. */
function parsePax (body: string): Record<string, string | number> {
  const set: Record<string, string | number> = Object.create(null) as Record<string, string | number>
  for (const line of body.replace(/\n$/, '').split('\n')) {
    const n = parseInt(line, 10)
    if (n !== Buffer.byteLength(line) + 1) continue
    const kv = line.slice(`${n} `.length).split('=')
    const raw = kv.shift()
    if (!raw) continue
    const key = raw.replace(/^SCHILY\.(dev|ino|nlink)/, '$1')
    if (!INERT_PAX.has(key)) throw new UnusualTarball(`pax header field ${key}`)
    const value = kv.join('=').replace(/\0.*/, '')
    if (key === 'size' || key === 'mode') {
      const num = Number(value)
      if (key === 'size' && !(num >= 0)) continue
      set[key] = num
    } else {
      set[key] = value
    }
  }
  return set
}

/** Whether `path` (already stripped of its first component) is one tar writes as it stands. */
function plainRelativePath (path: string): boolean {
  if (path.startsWith('/') || path.includes('\\') || /^[a-zA-Z]:/.test(path)) return false
  const parts = path.split('/')
  if (parts.length > MAX_DEPTH) return false
  return !parts.includes('..')
}

/** `a/./b//c/` → `a/b/c`, as `path.resolve` would place it under the package folder. */
function normalise (path: string): string {
  return path.split('/').filter((part) => part !== '' && part !== '.').join('/')
}

/**
 * The folders and files pacote would write for `tar` (an uncompressed archive).
 * Throws UnusualTarball for anything it leaves to pacote.
 */
export function readLayout (tar: Uint8Array, options: LayoutOptions): TarLayout {
  const files: TarFile[] = []
  const dirs: string[] = []
  const dirSet = new Set<string>()
  const fileSet = new Set<string>()
  const sawIgnores = new Set<string>()
  let ex: Record<string, string | number> | undefined
  let sawNull = false
  let sawEntry = false
  let off = 0

  const addDirs = (rel: string): void => {
    const parts = rel.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (fileSet.has(dir)) throw new UnusualTarball(`a file where a folder must go: ${dir}`)
      if (!dirSet.has(dir)) {
        dirSet.add(dir)
        dirs.push(dir)
      }
    }
  }

  while (off + BLOCK <= tar.length) {
    const cksum = octal(tar, off + 148, 12)
    if (cksum === undefined && isNullBlock(tar, off)) {
      off += BLOCK
      if (sawNull) break // end of archive: tar reads no further
      sawNull = true
      continue
    }
    sawNull = false
    if (checksum(tar, off) !== cksum) throw new UnusualTarball('checksum failure')

    const typeChar = tar[off + 156] === 0 ? '' : String.fromCharCode(tar[off + 156]!)
    const fields = NORMAL_TYPES.has(typeChar) ? ex : undefined
    let path = (fields?.path as string | undefined) ?? text(tar, off, 100)
    const rawMode = (fields?.mode as number | undefined) ?? octal(tar, off + 100, 8)
    let size = (fields?.size as number | undefined) ?? octal(tar, off + 124, 12) ?? 0
    let type = typeChar === '' ? '0' : typeChar
    if (type === '0' && path.endsWith('/')) type = '5'
    if (type === '5') size = 0
    const linkpath = text(tar, off + 157, 100)
    if (decoder.decode(tar.subarray(off + 257, off + 265)) === 'ustar\u000000') {
      const prefix = tar[off + 475] !== 0 ? text(tar, off + 345, 155) : text(tar, off + 345, 130)
      if (prefix) path = `${prefix}/${path}`
    }
    if (!path) throw new UnusualTarball('entry without a path')
    const isLink = type === '1' || type === '2'
    if (isLink && !linkpath) throw new UnusualTarball('link without a target')
    if (!isLink && type !== 'x' && type !== 'g' && linkpath) throw new UnusualTarball('link target on a non-link')

    const bodyStart = off + BLOCK
    const bodyEnd = bodyStart + size
    if (bodyEnd > tar.length) throw new UnusualTarball('truncated entry')
    off = bodyStart + Math.ceil(size / BLOCK) * BLOCK
    sawEntry = true

    if (type === 'x' || type === 'X' || type === 'L' || type === 'N' || type === 'K' || type === 'g') {
      if (type === 'g') throw new UnusualTarball('global pax header')
      if (size > MAX_META) throw new UnusualTarball('oversized meta entry')
      if (size === 0) continue
      const body = decoder.decode(tar.subarray(bodyStart, bodyEnd))
      if (type === 'x' || type === 'X') {
        ex = { ...ex, ...parsePax(body) }
      } else {
        ex = { ...ex, [type === 'K' ? 'linkpath' : 'path']: body.replace(/\0.*/, '') }
      }
      continue
    }
    ex = undefined
    if (IGNORED_TYPES.has(type) || SKIPPED_TYPES.has(type)) continue
    if (type !== '0' && type !== '7') throw new UnusualTarball(`entry type ${JSON.stringify(type)}`)

    // pacote's filter, on the path before stripping
    const base = path.slice(path.lastIndexOf('/') + 1)
    if (base === '.npmignore') {
      sawIgnores.add(path)
    } else if (base === '.gitignore' && !options.allowGitIgnore) {
      const npmignore = path.replace(/\.gitignore$/, '.npmignore')
      if (sawIgnores.has(npmignore)) continue
      path = npmignore
    }
    const mode = (((((rawMode ?? 0) & 0o7777) | options.fmode) & ~options.umask) | 0o600) & 0o7777

    // tar's strip: 1 and path checks
    const slash = path.indexOf('/')
    const stripped = slash === -1 ? '' : path.slice(slash + 1)
    if (stripped === '') continue // nothing left once stripped: tar writes no file over the package folder
    if (!plainRelativePath(stripped)) throw new UnusualTarball(`path ${JSON.stringify(path)}`)
    const rel = normalise(stripped)
    if (rel === '') continue
    if (dirSet.has(rel)) throw new UnusualTarball(`a file where a folder is: ${rel}`)
    addDirs(rel)
    fileSet.add(rel)
    files.push({ path: rel, mode, data: tar.subarray(bodyStart, bodyEnd) })
  }
  if (!sawEntry) throw new UnusualTarball('no entries')
  return { dirs, files }
}
