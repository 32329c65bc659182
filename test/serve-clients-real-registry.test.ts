/**
 * The five clients through `serve` against the real npm registry (its URL read from the machine's
 * npm config, never written here): with the registry the clients know by default as the upstream,
 * npm, pnpm, bun and yarn 4 write byte for byte the lockfile they write against the registry
 * itself; yarn 1 only has the registry's host left out of `resolved`. Every tarball goes through
 * serve. A small project, so the registry is asked little.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CLIENTS, installWith, readLockfile, type ClientName } from './helpers/clients.ts'
import { runCommand } from './helpers/run-command.ts'
import { startServe, type ServeProcess } from './helpers/serve.ts'

const configured = await runCommand('npm', ['config', 'get', 'registry'], { cwd: tmpdir() })
const registry = configured.stdout.trim()
assert.match(registry, /^https?:\/\//, `npm config get registry said: ${configured.stdout}${configured.stderr}`)

const PROJECT = { name: 'real-clients', version: '1.0.0', private: true, dependencies: { 'is-number': '^7.0.0', ms: '^2.1.3', '@types/ms': '^2.1.0' } }
const TARBALLS = 3
const KIND: Record<ClientName, string> = { npm: 'npm', pnpm: 'pnpm', bun: 'bun', yarn1: 'yarn1', yarn4: 'yarn' }

let work: string
let serve: ServeProcess

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipfs-npm-serve-real-'))
  await writeFile(join(work, 'npmrc'), `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`)
  serve = await startServe({ cwd: work, args: ['--userconfig', join(work, 'npmrc'), '--cache', join(work, 'serve-cache')] })
})

after(async () => {
  await serve?.stop()
  await rm(work, { recursive: true, force: true })
})

for (const client of CLIENTS) {
  test(`${client}: the registry's own lockfile through serve`, async () => {
    const lockfiles: string[] = []
    for (const [label, url] of [['direct', registry], ['serve', serve.url]] as const) {
      const cwd = join(work, client, label)
      await mkdir(cwd, { recursive: true })
      await writeFile(join(cwd, 'package.json'), `${JSON.stringify(PROJECT, null, 2)}\n`)
      const run = await installWith({ client, cwd, registry: url, state: join(work, client, `state-${label}`) })
      assert.equal(run.code, 0, `${client} ${label}:\n${run.stdout}\n${run.stderr}`)
      lockfiles.push(await readLockfile(client, cwd))
    }
    const [direct, throughServe] = lockfiles
    assert.ok(!throughServe.includes('127.0.0.1'), 'no loopback address in the lockfile')
    if (client === 'yarn1') {
      // yarn 1 writes dist.tarball verbatim; serve gives it the path under the registry
      const host = registry.endsWith('/') ? registry : `${registry}/`
      const strip = (text: string): string => text.replace(/^( {2}resolved )"?([^"\n]*)"?$/gm, (_, head: string, url: string) => `${head}${url.startsWith(host) ? url.slice(host.length) : url}`)
      assert.equal(strip(throughServe), strip(direct))
      assert.notEqual(throughServe, direct)
    } else {
      assert.equal(throughServe, direct, `${client}'s lockfile through serve is not the registry's own`)
    }
    const status = await (await fetch(`${serve.url}-/ipfs-npm/status`)).json() as { http: { byClient: Record<string, { tarballs: number }> } }
    assert.equal(status.http.byClient[KIND[client]]?.tarballs, TARBALLS, `every tarball of ${client} through serve`)
  })
}
