/**
 * Hand-made tar archives for the extractor's fidelity tests: entries of any type, path, mode and
 * order, pax and GNU long names — what `npm pack` never writes but a registry may still serve.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import type { PackedPackage } from './fixture-packages.ts'

export interface CraftedEntry {
  path: string
  /** `0` file (default), `1` hardlink, `2` symlink, `5` directory, `x` pax header, `L` GNU long name… */
  type?: string
  mode?: number
  body?: string | Uint8Array
  linkpath?: string
  /** Write `path` into the ustar prefix field (for paths of 100–255 bytes). */
  prefix?: string
}

const BLOCK = 512

function field (block: Buffer, off: number, size: number, value: string): void {
  block.write(value, off, size, 'utf8')
}

function octal (block: Buffer, off: number, size: number, value: number): void {
  field(block, off, size, `${value.toString(8).padStart(size - 1, '0')}\0`)
}

/** One 512-byte header block (ustar, checksum filled in). */
function header (entry: CraftedEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK)
  field(block, 0, 100, entry.path)
  octal(block, 100, 8, entry.mode ?? (entry.type === '5' ? 0o755 : 0o644))
  octal(block, 108, 8, 0)
  octal(block, 116, 8, 0)
  octal(block, 124, 12, size)
  octal(block, 136, 12, 499162500)
  field(block, 156, 1, entry.type ?? '0')
  if (entry.linkpath !== undefined) field(block, 157, 100, entry.linkpath)
  field(block, 257, 8, 'ustar\u000000')
  if (entry.prefix !== undefined) field(block, 345, 155, entry.prefix)
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of block) sum += byte
  field(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return block
}

/** A pax extended-header record, `"<len> key=value\n"` with its own length counted. */
export function paxRecord (key: string, value: string): string {
  const rest = ` ${key}=${value}\n`
  let len = Buffer.byteLength(rest)
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest)
  return `${len}${rest}`
}

/** The archive's bytes: every entry, then the two zero blocks that end it. */
export function tarOf (entries: CraftedEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body)
    parts.push(header(entry, body.length), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK))
  }
  parts.push(Buffer.alloc(BLOCK * 2))
  return Buffer.concat(parts)
}

/** A fixture-registry package whose tarball is `tarball` as given (gzipped or not, broken or not). */
export function craftedPackage (manifest: { name: string, version: string } & Record<string, unknown>, tarball: Buffer): PackedPackage {
  return {
    name: manifest.name,
    version: manifest.version,
    manifest,
    tarball,
    integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
    shasum: createHash('sha1').update(tarball).digest('hex'),
    filename: `${manifest.name.replace(/^@[^/]+\//, '')}-${manifest.version}.tgz`,
  }
}

/** A package whose archive holds its package.json first, then `entries`, gzipped. */
export function craftedTgz (manifest: { name: string, version: string } & Record<string, unknown>, entries: CraftedEntry[]): PackedPackage {
  const pkg: CraftedEntry = { path: 'package/package.json', body: `${JSON.stringify(manifest, null, 2)}\n` }
  return craftedPackage(manifest, gzipSync(tarOf([pkg, ...entries])))
}
