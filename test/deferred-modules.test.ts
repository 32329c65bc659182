/**
 * src/commands/deferred-modules.ts: Arborist loads without sigstore and without its
 * query-selector-all, and their users' calls reach the real modules; users of another shape, or
 * already loaded, are left alone.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { after, test } from 'node:test'
import { deferModules } from '../src/commands/deferred-modules.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

interface FakeShapes {
  /** pacote's lib/registry.js */
  registry: string
  /** Arborist's lib/node.js */
  node: string
  /** npm-registry-fetch's lib/index.js */
  registryFetch: string
}

const SHAPED: FakeShapes = {
  registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b) }\n",
  node: "// querySelectorAll: comments may name it\nconst querySelectorAll = require('./query-selector-all.js')\nmodule.exports = class Node {\n  querySelectorAll (query, opts) {\n    return querySelectorAll(this, query, opts)\n  }\n}\n",
  registryFetch: "const fetch = require('make-fetch-happen')\n// fetching: other words\nconst doFetch = (fetchBody) => fetch(fetchBody, { retries: 0 })\nmodule.exports = (uri) => doFetch(uri)\n",
}

/** An Arborist (lib/index.js requiring lib/node.js and pacote) beside a pacote, sigstore, npm-registry-fetch and make-fetch-happen, of these shapes. */
async function fakeArborist (shapes: FakeShapes): Promise<{ main: string, sigstore: string, querySelectorAll: string, makeFetchHappen: string }> {
  const dir = await tempDir('deferred-modules', cleanup)
  const files: Record<string, string> = {
    'node_modules/sigstore/index.js': 'exports.verify = async () => "verified"\nexports.sign = async () => "signed"\n',
    'node_modules/pacote/lib/registry.js': shapes.registry,
    'node_modules/pacote/lib/index.js': "module.exports = { ...require('./registry.js'), f: require('npm-registry-fetch') }\n",
    'node_modules/npm-registry-fetch/lib/index.js': shapes.registryFetch,
    'node_modules/npm-registry-fetch/package.json': '{ "name": "npm-registry-fetch", "main": "lib/index.js" }',
    'node_modules/make-fetch-happen/index.js': 'module.exports = async (uri) => `fetched ${uri}`\nmodule.exports.defaults = () => module.exports\n',
    'node_modules/pacote/package.json': '{ "name": "pacote", "main": "lib/index.js" }',
    'arborist/lib/query-selector-all.js': 'const querySelectorAll = (node, query) => `${query} of ${node.constructor.name}`\nmodule.exports = querySelectorAll\n',
    'arborist/lib/node.js': shapes.node,
    'arborist/lib/index.js': "module.exports = { Node: require('./node.js'), pacote: require('pacote') }\n",
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return {
    main: join(dir, 'arborist/lib/index.js'),
    sigstore: join(dir, 'node_modules/sigstore/index.js'),
    querySelectorAll: join(dir, 'arborist/lib/query-selector-all.js'),
    makeFetchHappen: join(dir, 'node_modules/make-fetch-happen/index.js'),
  }
}

test('users of another shape keep their own loading', async () => {
  for (const shapes of [
    { ...SHAPED, registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b), s: (b) => sigstore.sign(b) }\n" },
    { ...SHAPED, node: `${SHAPED.node}module.exports.q = querySelectorAll\n` },
    { ...SHAPED, registryFetch: `${SHAPED.registryFetch}module.exports.defaults = fetch.defaults\n` },
  ]) {
    const fake = await fakeArborist(shapes)
    const deferred = deferModules(fake.main)
    assert.equal(deferred.sigstore, shapes.registry === SHAPED.registry)
    assert.equal(deferred.querySelectorAll, shapes.node === SHAPED.node)
    assert.equal(deferred.makeFetchHappen, shapes.registryFetch === SHAPED.registryFetch)
    for (const [file, kept] of [[fake.sigstore, deferred.sigstore], [fake.querySelectorAll, deferred.querySelectorAll], [fake.makeFetchHappen, deferred.makeFetchHappen]] as const) {
      if (!kept) assert.equal(require.cache[file], undefined)
    }
  }
})

test('users of the expected shape get stand-ins, whose use reaches the real modules', async () => {
  const fake = await fakeArborist(SHAPED)
  const { workspaceMaps: _, ...deferred } = deferModules(fake.main)
  assert.deepEqual(deferred, { sigstore: true, querySelectorAll: true, makeFetchHappen: true })
  const arborist = require(fake.main) as { Node: new () => { querySelectorAll(q: string): string }, pacote: { v(b: unknown): Promise<string>, f(uri: string): Promise<string> } }
  // loaded: the stand-ins, not the modules
  assert.equal(require.cache[fake.sigstore]?.loaded, true)
  assert.equal(await arborist.pacote.v({}), 'verified')
  assert.equal(new arborist.Node().querySelectorAll(':root'), ':root of Node')
  assert.equal(await arborist.pacote.f('u'), 'fetched u')
  // once used, the cache holds the real modules, for anyone else
  assert.equal(typeof (require(fake.sigstore) as { sign: unknown }).sign, 'function')
  assert.equal((require(fake.querySelectorAll) as { name: string }).name, 'querySelectorAll')
  assert.equal(typeof (require(fake.makeFetchHappen) as { defaults: unknown }).defaults, 'function')
  const { workspaceMaps: __, ...again } = deferModules(fake.main)
  assert.deepEqual(again, { sigstore: false, querySelectorAll: false, makeFetchHappen: false }, 'pacote and Arborist are loaded by now')
})

test('Arborist loads without sigstore, query-selector-all and make-fetch-happen, which load when used', async () => {
  const arboristMain = require.resolve('@npmcli/arborist')
  const installed = arboristMain.replace(/node_modules[\\/].*$/, '')
  const loaded = (pattern: RegExp): string[] => Object.keys(require.cache).filter((file) => file.startsWith(installed) && pattern.test(file) && require.cache[file]?.exports !== undefined)
  const sigstoreFiles = /[\\/](@sigstore|sigstore|tuf-js|@tufjs)[\\/]/
  const queryFiles = /[\\/](@npmcli[\\/]query|postcss-selector-parser)[\\/]/
  const fetchFiles = /[\\/](make-fetch-happen|@npmcli[\\/]agent|socks|ip-address)[\\/]/
  assert.deepEqual(deferModules(arboristMain), { sigstore: true, querySelectorAll: true, makeFetchHappen: true, workspaceMaps: true }, "pacote's, npm-registry-fetch's or Arborist's shape changed")
  const { Node } = require(arboristMain) as { Node: new (options: Record<string, unknown>) => { querySelectorAll(q: string): Promise<unknown[]> } }
  assert.equal(loaded(sigstoreFiles).length, 1, 'only the stand-in')
  assert.deepEqual(loaded(queryFiles), [])
  assert.equal(loaded(fetchFiles).length, 1, 'only the stand-in')
  // what Arborist calls through the stand-in: the real query (postcss-selector-parser parses it)
  const root = new Node({ path: join(installed, 'no-such-project'), pkg: { name: 'root', version: '1.0.0' } })
  const found = await root.querySelectorAll(':root')
  assert.equal(found.length, 1)
  assert.equal(found[0], root)
  assert.ok(loaded(queryFiles).length > 10)
  // pacote's use (not called here: it would ask sigstore's TUF mirror) is the real verify
  const sigstoreFile = createRequire(createRequire(arboristMain).resolve('pacote')).resolve('sigstore')
  const verify = (require.cache[sigstoreFile]!.exports as { verify: unknown }).verify
  assert.ok(loaded(sigstoreFiles).length > 50)
  assert.equal(typeof verify, 'function')
  assert.equal(verify, (require(sigstoreFile) as { verify: unknown }).verify)
  // npm-registry-fetch's call: a real fetch (of a port nothing listens on, which fails as make-fetch-happen fails)
  const registryFetch = require(createRequire(createRequire(arboristMain).resolve('pacote')).resolve('npm-registry-fetch')) as (uri: string, opts: Record<string, unknown>) => Promise<unknown>
  await assert.rejects(registryFetch('http://127.0.0.1:9/x', { retry: { retries: 0 } }), { code: 'ECONNREFUSED' })
  assert.ok(loaded(fetchFiles).length > 10)
})
