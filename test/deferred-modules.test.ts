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
}

const SHAPED: FakeShapes = {
  registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b) }\n",
  node: "// querySelectorAll: comments may name it\nconst querySelectorAll = require('./query-selector-all.js')\nmodule.exports = class Node {\n  querySelectorAll (query, opts) {\n    return querySelectorAll(this, query, opts)\n  }\n}\n",
}

/** An Arborist (lib/index.js requiring lib/node.js and pacote) beside a pacote and a sigstore, of these shapes. */
async function fakeArborist (shapes: FakeShapes): Promise<{ main: string, sigstore: string, querySelectorAll: string }> {
  const dir = await tempDir('deferred-modules', cleanup)
  const files: Record<string, string> = {
    'node_modules/sigstore/index.js': 'exports.verify = async () => "verified"\nexports.sign = async () => "signed"\n',
    'node_modules/pacote/lib/registry.js': shapes.registry,
    'node_modules/pacote/lib/index.js': "module.exports = require('./registry.js')\n",
    'node_modules/pacote/package.json': '{ "name": "pacote", "main": "lib/index.js" }',
    'arborist/lib/query-selector-all.js': 'const querySelectorAll = (node, query) => `${query} of ${node.constructor.name}`\nmodule.exports = querySelectorAll\n',
    'arborist/lib/node.js': shapes.node,
    'arborist/lib/index.js': "module.exports = { Node: require('./node.js'), pacote: require('pacote') }\n",
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return { main: join(dir, 'arborist/lib/index.js'), sigstore: join(dir, 'node_modules/sigstore/index.js'), querySelectorAll: join(dir, 'arborist/lib/query-selector-all.js') }
}

test('users of another shape keep their own loading', async () => {
  for (const shapes of [
    { ...SHAPED, registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b), s: (b) => sigstore.sign(b) }\n" },
    { ...SHAPED, node: `${SHAPED.node}module.exports.q = querySelectorAll\n` },
  ]) {
    const fake = await fakeArborist(shapes)
    const deferred = deferModules(fake.main)
    assert.equal(deferred.sigstore, shapes.registry === SHAPED.registry)
    assert.equal(deferred.querySelectorAll, shapes.node === SHAPED.node)
    for (const [file, kept] of [[fake.sigstore, deferred.sigstore], [fake.querySelectorAll, deferred.querySelectorAll]] as const) {
      if (!kept) assert.equal(require.cache[file], undefined)
    }
  }
})

test('users of the expected shape get stand-ins, whose use reaches the real modules', async () => {
  const fake = await fakeArborist(SHAPED)
  assert.deepEqual(deferModules(fake.main), { sigstore: true, querySelectorAll: true })
  const arborist = require(fake.main) as { Node: new () => { querySelectorAll(q: string): string }, pacote: { v(b: unknown): Promise<string> } }
  // loaded: the stand-ins, not the modules
  assert.equal(require.cache[fake.sigstore]?.loaded, true)
  assert.equal(await arborist.pacote.v({}), 'verified')
  assert.equal(new arborist.Node().querySelectorAll(':root'), ':root of Node')
  // once used, the cache holds the real modules, for anyone else
  assert.equal(typeof (require(fake.sigstore) as { sign: unknown }).sign, 'function')
  assert.equal((require(fake.querySelectorAll) as { name: string }).name, 'querySelectorAll')
  assert.deepEqual(deferModules(fake.main), { sigstore: false, querySelectorAll: false }, 'pacote and Arborist are loaded by now')
})

test('Arborist loads without sigstore and query-selector-all, which load when used', async () => {
  const arboristMain = require.resolve('@npmcli/arborist')
  const installed = arboristMain.replace(/node_modules[\\/].*$/, '')
  const loaded = (pattern: RegExp): string[] => Object.keys(require.cache).filter((file) => file.startsWith(installed) && pattern.test(file) && require.cache[file]?.exports !== undefined)
  const sigstoreFiles = /[\\/](@sigstore|sigstore|tuf-js|@tufjs)[\\/]/
  const queryFiles = /[\\/](@npmcli[\\/]query|postcss-selector-parser)[\\/]/
  assert.deepEqual(deferModules(arboristMain), { sigstore: true, querySelectorAll: true }, "pacote's or Arborist's shape changed: nothing is deferred")
  const { Node } = require(arboristMain) as { Node: new (options: Record<string, unknown>) => { querySelectorAll(q: string): Promise<unknown[]> } }
  assert.equal(loaded(sigstoreFiles).length, 1, 'only the stand-in')
  assert.deepEqual(loaded(queryFiles), [])
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
})
