/**
 * Malformed and hostile input to a real `ipfs-npm ci`: our own options (`.ipfs-npmrc`, flags,
 * multiaddrs, swarm keys) give a clear one-line error and a non-zero exit even when the cache is
 * warm and no node would start; hostile lockfiles (bad integrities, foreign URLs, traversal in
 * package paths, wrong types) fail or succeed exactly when npm does, never with a stack trace,
 * and never write outside the project and the cache.
 */
import assert from 'node:assert/strict'
import { access, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import type { CommandResult } from '../helpers/run-command.ts'
import { createWorkspace, fastUserconfig, ipfsNpm, npm, report, stackLines, type Workspace } from './helpers.ts'

let ws: Workspace
let registries: FixtureRegistries
let userconfig: string
let warmCache: string

before(async () => {
  ws = await createWorkspace('bad-input')
  registries = await startFixtureRegistries()
  userconfig = await fastUserconfig(registries, ws.root)
  warmCache = join(ws.root, 'warm-cache')
  const dir = await ws.project('basic')
  const run = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', warmCache], dir)
  assert.equal(run.code, 0, run.stderr)
})
after(async () => {
  await registries.stop()
  await ws.cleanup()
})

/** The `npm error` lines of a run, minus the pointer to the debug log. */
function errorLines (run: CommandResult): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('npm error') && !line.includes('A complete log of this run'))
}

describe('our options, on a warm cache (no node would start)', () => {
  const cases: Array<{ name: string, flags?: string[], rc?: string, key?: string, expect: RegExp }> = [
    { name: 'a --peer that is not a multiaddr', flags: ['--peer', 'garbage'], expect: /--peer: invalid multiaddr "garbage"/ },
    { name: 'a --peer with a bad IPv4', flags: ['--peer', '/ip4/999.1.1.1/tcp/1'], expect: /--peer: invalid multiaddr/ },
    { name: 'a --listen with an unknown protocol', flags: ['--listen', '/nonsense/1'], expect: /--listen: invalid multiaddr/ },
    { name: 'a --bootstrap that is not a multiaddr', flags: ['--bootstrap=/dns4'], expect: /--bootstrap: invalid multiaddr/ },
    { name: 'a non-numeric --peer-timeout', flags: ['--peer-timeout', 'abc'], expect: /peer-timeout must be a whole number/ },
    { name: 'a negative --peer-timeout', flags: ['--peer-timeout=-5'], expect: /peer-timeout must be a whole number/ },
    { name: '--no-mdns with a value', flags: ['--no-mdns=yes'], expect: /--no-mdns takes no value/ },
    { name: 'a missing swarm key file', flags: ['--swarm-key', '/nonexistent/swarm.key'], expect: /cannot read swarm key/ },
    { name: 'a malformed swarm key', key: 'hello\n', expect: /malformed swarm key/ },
    { name: 'a swarm key with a short hex key', key: '/key/swarm/psk/1.0.0/\n/base16/\nabcd\n', expect: /malformed swarm key/ },
    { name: 'a binary swarm key', key: '\u0000\u00ff\u0001', expect: /malformed swarm key/ },
    { name: 'an unknown key in .ipfs-npmrc', rc: 'frob = 1\n', expect: /\.ipfs-npmrc:1: not an ipfs-npm option/ },
    { name: 'a bad boolean in .ipfs-npmrc', rc: '# ok\nmdns = maybe\n', expect: /\.ipfs-npmrc:2: mdns must be true or false/ },
    { name: 'control characters in .ipfs-npmrc', rc: '\u0000\u0001\u001b[31m=\u00ff\n', expect: /not an ipfs-npm option: "\\u0000\\u0001\\u001b\[31m=ÿ"/ },
    { name: 'a bad peer in .ipfs-npmrc', rc: 'peer = /ip4/1.2.3.4/tcp/notaport\n', expect: /--peer: invalid multiaddr/ },
    { name: 'a port out of range (serve)', flags: ['--port', '70000'], expect: /port must be 1-65535/ },
  ]
  for (const c of cases) {
    test(`${c.name}: one clear line, non-zero exit`, async () => {
      const dir = await ws.project('basic')
      if (c.rc !== undefined) await writeFile(join(dir, '.ipfs-npmrc'), c.rc)
      const flags = [...(c.flags ?? [])]
      if (c.key !== undefined) {
        await writeFile(join(dir, 'swarm.key'), c.key)
        flags.push('--swarm-key', join(dir, 'swarm.key'))
      }
      const run = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', warmCache, ...flags], dir)
      assert.notEqual(run.code, 0, `${run.stdout}\n${run.stderr}`)
      const lines = errorLines(run)
      assert.match(lines.join('\n'), c.expect)
      assert.ok(lines.length <= 2, `one error (code line + message):\n${lines.join('\n')}`)
      assert.ok(!/[\u0000-\u0008\u001b]/.test(run.stderr), 'no raw control characters echoed to the terminal')
      assert.deepEqual(stackLines(run), [])
      await assert.rejects(access(join(dir, 'node_modules')), 'nothing installed')
    })
  }
  after(() => report('malformed options, .ipfs-npmrc, multiaddrs, swarm keys (warm cache)', `${cases.length} cases: one-line error, exit 1, nothing installed`))
})

type LockEdit = (lock: { lockfileVersion?: unknown, packages: Record<string, Record<string, unknown>> }) => unknown

describe('hostile lockfiles: ipfs-npm fails or succeeds as npm does, cleanly', () => {
  /**
   * Default: the same outcome as npm. `by-digest`: content addressing — the cache and peers serve
   * by integrity, so a lock entry naming another package's integrity gets exactly those bytes (npm,
   * fetching by URL, fails instead); what is installed is what the lockfile's integrity names,
   * never unverified bytes. `stricter`: npm installs what it cannot verify (an integrity of no
   * algorithm it checks); ipfs-npm refuses with EINTEGRITY.
   */
  const cases: Array<{ name: string, edit: LockEdit, expect?: 'by-digest' | 'stricter' }> = [
    { name: 'an integrity that is not base64', edit: (l) => { l.packages['node_modules/alpha']!.integrity = 'sha512-!!!not base64!!!' } },
    { name: 'an integrity of another package', edit: (l) => { l.packages['node_modules/alpha']!.integrity = l.packages['node_modules/beta']!.integrity }, expect: 'by-digest' },
    { name: 'an integrity that is a number', edit: (l) => { l.packages['node_modules/alpha']!.integrity = 42 } },
    { name: 'an unknown hash algorithm only', edit: (l) => { l.packages['node_modules/alpha']!.integrity = 'md5-AAAAAAAAAAAAAAAAAAAAAA==' }, expect: 'stricter' },
    { name: 'a resolved URL on a foreign host', edit: (l) => { l.packages['node_modules/alpha']!.resolved = 'http://127.0.0.1:9/evil/alpha-1.1.0.tgz' } },
    { name: 'a resolved file: URL outside the project', edit: (l) => { l.packages['node_modules/alpha']!.resolved = 'file:../../../../etc/passwd' } },
    { name: 'a package path that climbs out of node_modules', edit: (l) => { l.packages['node_modules/../../../../tmp/ipfs-npm-escaped'] = { ...l.packages['node_modules/alpha'] } } },
    { name: 'a version that is not semver', edit: (l) => { l.packages['node_modules/alpha']!.version = 'not-a-version' } },
    { name: 'packages as an array', edit: (l) => { (l as Record<string, unknown>).packages = [] } },
    { name: 'an unknown lockfileVersion', edit: (l) => { l.lockfileVersion = 99 } },
  ]
  for (const c of cases) {
    test(c.name, async () => {
      const [a, b] = await Promise.all([ws.project('basic'), ws.project('basic')])
      for (const dir of [a, b]) {
        const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as Parameters<LockEdit>[0]
        c.edit(lock)
        await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2))
      }
      const args = (dir: string): string[] => ['ci', '--userconfig', userconfig, '--cache', join(dir, '..', 'cache')]
      const [n, i] = await Promise.all([npm(args(a), a), ipfsNpm(args(b), b)])
      const detail = `npm exit ${n.code}:\n${n.stderr}\nipfs-npm exit ${i.code}:\n${i.stderr}`
      if (c.expect === 'stricter') assert.match(i.stderr, /npm error code EINTEGRITY/, detail)
      else if (c.expect === 'by-digest') {
        assert.equal(i.code, 0, detail)
        const installed = JSON.parse(await readFile(join(b, 'node_modules', 'alpha', 'package.json'), 'utf8')) as { name: string }
        assert.equal(installed.name, 'beta', 'the bytes the integrity names')
      } else assert.equal(i.code === 0, n.code === 0, detail)
      if (i.code !== 0) assert.ok(errorLines(i).length > 0, detail)
      assert.deepEqual(stackLines(i), [], detail)
      await assert.rejects(access('/tmp/ipfs-npm-escaped'), 'nothing written outside the project')
      assert.deepEqual((await readdir(join(b, '..'))).sort(), ['basic', 'cache'])
      report(`hostile lockfile: ${c.name}`, `ipfs-npm exit ${i.code}, npm exit ${n.code}${c.expect === undefined ? '' : ` (${c.expect})`}; no stack trace, nothing written outside`)
    })
  }
})
