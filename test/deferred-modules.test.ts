/**
 * src/commands/deferred-modules.ts: Arborist loads without sigstore, its query-selector-all,
 * make-fetch-happen, npm-registry-fetch's check-response and tar, and their users' calls reach the
 * real modules; users of another shape, or already loaded, are left alone.
 */
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
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
  /** pacote's lib/fetcher.js and lib/dir.js */
  fetcher: string
  dir: string
}

const SHAPED: FakeShapes = {
  registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b) }\n",
  node: "// querySelectorAll: comments may name it\nconst querySelectorAll = require('./query-selector-all.js')\nmodule.exports = class Node {\n  querySelectorAll (query, opts) {\n    return querySelectorAll(this, query, opts)\n  }\n}\n",
  registryFetch: "const fetch = require('make-fetch-happen')\nconst checkResponse = require('./check-response.js')\n// fetching: other words\nconst doFetch = (fetchBody) => fetch(fetchBody, { retries: 0 })\nmodule.exports = (uri) => doFetch(uri).then((res) => checkResponse({ res }))\n",
  fetcher: "const tar = require('tar')\nconst warn = (m) => ['tar', m] /* tar warns */\nmodule.exports = { x: (tarball) => tar.x(tarball) }\n",
  dir: "const tar = require('tar')\nconst tarCreateOptions = () => ({})\n// and tar it up\nmodule.exports = { c: (files) => tar.c(tarCreateOptions(), files) }\n",
}

interface Fake { main: string, sigstore: string, querySelectorAll: string, makeFetchHappen: string, checkResponse: string, tar: string }

/** An Arborist (lib/index.js requiring lib/node.js and pacote) beside a pacote, sigstore, npm-registry-fetch, make-fetch-happen and tar, of these shapes. */
async function fakeArborist (shapes: FakeShapes): Promise<Fake> {
  const dir = await tempDir('deferred-modules', cleanup)
  const files: Record<string, string> = {
    'node_modules/sigstore/index.js': 'exports.verify = async () => "verified"\nexports.sign = async () => "signed"\n',
    'node_modules/pacote/lib/registry.js': shapes.registry,
    'node_modules/pacote/lib/index.js': "module.exports = { ...require('./registry.js'), f: require('npm-registry-fetch'), ...require('./fetcher.js'), ...require('./dir.js') }\n",
    'node_modules/pacote/lib/fetcher.js': shapes.fetcher,
    'node_modules/pacote/lib/dir.js': shapes.dir,
    'node_modules/tar/index.js': 'exports.x = (t) => `extracted ${t}`\nexports.c = (o, files) => `packed ${files}`\n',
    'node_modules/npm-registry-fetch/lib/index.js': shapes.registryFetch,
    'node_modules/npm-registry-fetch/lib/check-response.js': 'const checkResponse = ({ res }) => `checked ${res}`\nmodule.exports = checkResponse\n',
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
    checkResponse: join(dir, 'node_modules/npm-registry-fetch/lib/check-response.js'),
    tar: join(dir, 'node_modules/tar/index.js'),
  }
}

const deferrable = ['sigstore', 'querySelectorAll', 'makeFetchHappen', 'checkResponse', 'tar'] as const

test('users of another shape keep their own loading', async () => {
  for (const shapes of [
    { ...SHAPED, registry: "const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b), s: (b) => sigstore.sign(b) }\n" },
    { ...SHAPED, node: `${SHAPED.node}module.exports.q = querySelectorAll\n` },
    { ...SHAPED, registryFetch: SHAPED.registryFetch.replace('// fetching', 'const f = fetch\n// fetching') },
    { ...SHAPED, registryFetch: `${SHAPED.registryFetch}module.exports.check = checkResponse\n` },
    { ...SHAPED, fetcher: `${SHAPED.fetcher}module.exports.tar = tar\n` },
    { ...SHAPED, dir: SHAPED.dir.replace("require('tar')", "require('tar').c") },
  ]) {
    const fake = await fakeArborist(shapes)
    const deferred = deferModules(fake.main)
    assert.equal(deferred.sigstore, shapes.registry === SHAPED.registry)
    assert.equal(deferred.querySelectorAll, shapes.node === SHAPED.node)
    assert.equal(deferred.makeFetchHappen, !/const f = fetch/.test(shapes.registryFetch))
    assert.equal(deferred.checkResponse, !/check = checkResponse/.test(shapes.registryFetch))
    assert.equal(deferred.tar, shapes.fetcher === SHAPED.fetcher && shapes.dir === SHAPED.dir)
    for (const name of deferrable) {
      if (!deferred[name]) assert.equal(require.cache[fake[name]], undefined, name)
    }
  }
})

test('users of the expected shape get stand-ins, whose use reaches the real modules', async () => {
  const fake = await fakeArborist(SHAPED)
  const deferred = deferModules(fake.main)
  for (const name of deferrable) assert.equal(deferred[name], true, name)
  const arborist = require(fake.main) as { Node: new () => { querySelectorAll(q: string): string }, pacote: { v(b: unknown): Promise<string>, f(uri: string): Promise<string>, x(t: string): string, c(files: string): string } }
  // loaded: the stand-ins, not the modules
  assert.equal(require.cache[fake.sigstore]?.loaded, true)
  assert.equal(await arborist.pacote.v({}), 'verified')
  assert.equal(new arborist.Node().querySelectorAll(':root'), ':root of Node')
  assert.equal(await arborist.pacote.f('u'), 'checked fetched u')
  assert.equal(arborist.pacote.x('t.tgz'), 'extracted t.tgz')
  assert.equal(arborist.pacote.c('a,b'), 'packed a,b')
  // once used, the cache holds the real modules, for anyone else
  assert.equal(typeof (require(fake.sigstore) as { sign: unknown }).sign, 'function')
  assert.equal((require(fake.querySelectorAll) as { name: string }).name, 'querySelectorAll')
  assert.equal(typeof (require(fake.makeFetchHappen) as { defaults: unknown }).defaults, 'function')
  assert.equal((require(fake.checkResponse) as { name: string }).name, 'checkResponse')
  assert.deepEqual(Object.keys(require(fake.tar) as object), ['x', 'c'])
  const again = deferModules(fake.main)
  for (const name of deferrable) assert.equal(again[name], false, `${name}: pacote and Arborist are loaded by now`)
})

test('Arborist loads without sigstore, query-selector-all, make-fetch-happen, check-response and tar, which load when used', async () => {
  const arboristMain = require.resolve('@npmcli/arborist')
  const installed = arboristMain.replace(/node_modules[\\/].*$/, '')
  const loaded = (pattern: RegExp): string[] => Object.keys(require.cache).filter((file) => file.startsWith(installed) && pattern.test(file) && require.cache[file]?.exports !== undefined)
  const sigstoreFiles = /[\\/](@sigstore|sigstore|tuf-js|@tufjs)[\\/]/
  const queryFiles = /[\\/](@npmcli[\\/]query|postcss-selector-parser)[\\/]/
  const fetchFiles = /[\\/](make-fetch-happen|@npmcli[\\/]agent|socks|ip-address)[\\/]/
  const responseFiles = /[\\/](minipass-fetch|iconv-lite|npm-registry-fetch[\\/]lib[\\/]check-response\.js)/
  const tarFiles = /[\\/]node_modules[\\/]tar[\\/]/
  const deferred = deferModules(arboristMain)
  for (const name of deferrable) assert.equal(deferred[name], true, `${name}: pacote's, npm-registry-fetch's or Arborist's shape changed`)
  const { Node, Arborist } = require(arboristMain) as { Node: new (options: Record<string, unknown>) => { querySelectorAll(q: string): Promise<unknown[]> }, Arborist: unknown }
  assert.equal(loaded(sigstoreFiles).length, 1, 'only the stand-in')
  assert.deepEqual(loaded(queryFiles), [])
  assert.equal(loaded(fetchFiles).length, 1, 'only the stand-in')
  assert.equal(loaded(responseFiles).length, 1, 'only the stand-in')
  assert.equal(loaded(tarFiles).length, 1, 'only the stand-in')
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
  // and its check of a response: the real one (an error status is npm's E404, a body is read)
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/there' ? 200 : 404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ url: req.url }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  after(() => server.close())
  const registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const cache = await tempDir('deferred-modules-cache', cleanup)
  const json = (registryFetch as unknown as { json(uri: string, opts: Record<string, unknown>): Promise<unknown> }).json
  assert.deepEqual(await json(`${registry}/there`, { cache, retry: { retries: 0 } }), { url: '/there' })
  await assert.rejects(json(`${registry}/missing`, { cache, retry: { retries: 0 } }), { code: 'E404', statusCode: 404 })
  assert.ok(loaded(responseFiles).length > 5)
  // pacote's uses of tar: a folder packed (tar.c), then unpacked (tar.x)
  const dir = await tempDir('deferred-modules-pack', cleanup)
  await mkdir(join(dir, 'folder'))
  await writeFile(join(dir, 'folder', 'package.json'), JSON.stringify({ name: 'folder', version: '1.0.0' }))
  await writeFile(join(dir, 'folder', 'index.js'), 'module.exports = 1\n')
  const pacote = require(createRequire(arboristMain).resolve('pacote')) as { extract(spec: string, dest: string, opts: Record<string, unknown>): Promise<unknown> }
  await pacote.extract(`file:${join(dir, 'folder')}`, join(dir, 'out'), { cache, Arborist })
  assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['index.js', 'package.json'])
  assert.equal(await readFile(join(dir, 'out', 'index.js'), 'utf8'), 'module.exports = 1\n')
  assert.ok(loaded(tarFiles).length === 1 && require.cache[loaded(tarFiles)[0]]?.loaded === true && typeof (require.cache[loaded(tarFiles)[0]]!.exports as { x: unknown }).x === 'function')
})
