/**
 * Tarballs `npm pack` never makes but a registry may serve, for the extractor's tests: long names
 * (pax, GNU, ustar prefix), links, a file under a symlinked folder, `..` and absolute paths,
 * duplicate entries, `.gitignore` with and without `.npmignore`, nested bins, mode 0 and setuid,
 * a plain (not gzipped) tar, and broken archives.
 */
import { gzipSync } from 'node:zlib'
import { craftedPackage, craftedTgz, paxRecord, tarOf } from '../helpers/tar-craft.ts'

const longDir = `package/${'d'.repeat(60)}`
export const crafted = [
  craftedTgz({ name: 'x-longnames', version: '1.0.0' }, [
    { path: 'package/PaxHeader', type: 'x', body: paxRecord('path', `${longDir}/${'f'.repeat(80)}-é.js`) },
    { path: 'package/cut-by-pax', body: 'named by a pax header\n' },
    { path: '././@LongLink', type: 'L', body: `package/${'g'.repeat(120)}.txt\0` },
    { path: 'package/ggg', body: 'named by a GNU long name\n' },
    { prefix: `package/${'p'.repeat(90)}`, path: `${'q'.repeat(90)}.js`, body: 'named with a ustar prefix\n' },
    { path: 'package/dir/', type: '5', mode: 0o700 },
    { path: 'package/dir/in-a-0700-dir.txt', body: 'a\n' },
  ]),
  craftedTgz({ name: 'x-links', version: '1.0.0' }, [
    { path: 'package/hard', type: '1', linkpath: 'package/package.json' },
    { path: 'package/soft', type: '2', linkpath: 'package.json' },
    { path: 'package/lnk', type: '2', linkpath: '/tmp' },
    { path: 'package/lnk/through-a-link.txt', body: 'must land in a folder, not in /tmp\n' },
  ]),
  craftedTgz({ name: 'x-dupes', version: '1.0.0' }, [
    { path: 'package/dup.txt', body: 'first\n', mode: 0o755 },
    { path: 'package/dup.txt', body: 'second, and longer\n', mode: 0o600 },
  ]),
  craftedTgz({ name: 'x-ignores', version: '1.0.0' }, [
    { path: 'package/.gitignore', body: 'alone\n' },
    { path: 'package/a/.npmignore', body: 'npmignore first\n' },
    { path: 'package/a/.gitignore', body: 'then gitignore\n' },
    { path: 'package/b/.gitignore', body: 'gitignore first\n' },
    { path: 'package/b/.npmignore', body: 'then npmignore\n' },
  ]),
  craftedTgz({ name: 'x-modes', version: '1.0.0', bin: { 'x-modes': 'bin/deep/cli.js' } }, [
    { path: 'package/bin/deep/cli.js', body: '#!/usr/bin/env node\n', mode: 0o644 },
    { path: 'package/none.txt', body: 'mode 0\n', mode: 0o000 },
    { path: 'package/setuid', body: 'setuid\n', mode: 0o4755 },
    { path: 'package/group-only.sh', body: 'echo\n', mode: 0o750 },
  ]),
  craftedTgz({ name: 'x-paths', version: '1.0.0' }, [
    { path: '/package/from-root.txt', body: 'absolute before the strip, relative after\n' },
    { path: 'package/./dot/./file.txt', body: 'dots\n' },
    { path: 'top-level-file', body: 'no folder to strip: tar skips it\n' },
  ]),
  craftedTgz({ name: 'x-dotdot', version: '1.0.0' }, [
    { path: 'package/../escape.txt', body: 'must not leave the folder\n' },
    { path: 'package/kept.txt', body: 'kept\n' },
  ]),
  craftedTgz({ name: 'x-absolute', version: '1.0.0' }, [
    { path: 'package//etc/absolute-after-strip.txt', body: 'absolute once stripped\n' },
  ]),
  craftedTgz({ name: 'x-global-pax', version: '1.0.0' }, [
    { path: 'pax_global_header', type: 'g', body: paxRecord('comment', 'a git archive') },
    { path: 'package/file.txt', body: 'after a global header\n' },
  ]),
  craftedPackage({ name: 'x-plain-tar', version: '1.0.0' }, tarOf([
    { path: 'package/package.json', body: '{"name":"x-plain-tar","version":"1.0.0"}\n' },
    { path: 'package/not-gzipped.txt', body: 'a tarball without gzip\n' },
  ])),
  craftedPackage({ name: 'x-truncated', version: '1.0.0' }, (() => {
    const bytes = gzipSync(tarOf([
      { path: 'package/package.json', body: '{"name":"x-truncated","version":"1.0.0"}\n' },
      { path: 'package/counted.txt', body: Array.from({ length: 20_000 }, (_, i) => `${i}\n`).join('') },
    ]))
    return bytes.subarray(0, bytes.length >> 1)
  })()),
  craftedPackage({ name: 'x-corrupt', version: '1.0.0' }, (() => {
    const bytes = gzipSync(tarOf([
      { path: 'package/package.json', body: '{"name":"x-corrupt","version":"1.0.0"}\n' },
      { path: 'package/data.txt', body: 'some text that compresses '.repeat(200) },
    ]))
    for (let i = 20; i < 40; i++) bytes[i] = bytes[i]! ^ 0xff
    return bytes
  })()),
  craftedPackage({ name: 'x-short-tar', version: '1.0.0' }, gzipSync(tarOf([
    { path: 'package/package.json', body: '{"name":"x-short-tar","version":"1.0.0"}\n' },
    { path: 'package/long.txt', body: 'y'.repeat(5000) },
  ]).subarray(0, 2048))),
]

/** Unpacked by our reader. */
export const native = ['x-longnames', 'x-links', 'x-dupes', 'x-ignores', 'x-modes', 'x-paths', 'x-plain-tar']
/** Well-formed, but left to pacote: tar warns about them, or reads them its own way. */
export const leftToPacote = ['x-dotdot', 'x-absolute', 'x-global-pax']
