/**
 * src/commands/deferred-sigstore.ts: pacote loads without sigstore, and pacote's use of it
 * reaches the real sigstore; a pacote of another shape, or one already loaded, is left alone.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { deferSigstore } from '../src/commands/deferred-sigstore.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

/** The project's sigstore modules loaded so far (the stand-in's own entry aside). */
const installed = require.resolve('@npmcli/arborist').replace(/node_modules[\\/].*$/, '')
const sigstoreLoaded = (stand: string): string[] => Object.keys(require.cache).filter((file) => file !== stand && file.startsWith(installed) && /[\\/](@sigstore|sigstore|tuf-js|@tufjs)[\\/]/.test(file))

/** A pacote whose lib/registry.js says `registry`, beside a sigstore of its own. */
async function fakePacote (registry: string): Promise<string> {
  const dir = await tempDir('deferred-sigstore', cleanup)
  await mkdir(join(dir, 'node_modules/pacote/lib'), { recursive: true })
  await mkdir(join(dir, 'node_modules/sigstore'), { recursive: true })
  await writeFile(join(dir, 'node_modules/sigstore/index.js'), 'exports.verify = async () => "real"\nexports.sign = async () => "signed"\n')
  await writeFile(join(dir, 'node_modules/pacote/lib/registry.js'), registry)
  await writeFile(join(dir, 'node_modules/pacote/lib/index.js'), "module.exports = require('./registry.js')\n")
  return join(dir, 'node_modules/pacote/lib/index.js')
}

test('a pacote that uses more of sigstore than verify keeps its own loading', async () => {
  const main = await fakePacote("const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b), s: (b) => sigstore.sign(b) }\n")
  assert.equal(deferSigstore(main).applied, false)
  assert.equal(require.cache[createRequire(main).resolve('sigstore')], undefined)
})

test('a fake pacote of the same shape gets the stand-in, and its verify reaches the real module', async () => {
  const main = await fakePacote("const sigstore = require('sigstore')\nmodule.exports = { v: (b) => sigstore.verify(b) }\n")
  assert.equal(deferSigstore(main).applied, true)
  const file = createRequire(main).resolve('sigstore')
  const pacote = require(main) as { v(bundle: unknown): Promise<string> }
  assert.equal(require.cache[file]?.loaded, true)
  assert.equal(await pacote.v({}), 'real')
  // once used, the cache holds the real module, for anyone else
  assert.equal((require(file) as { sign(): Promise<string> }).sign.constructor.name, 'AsyncFunction')
  assert.equal(deferSigstore(main).applied, false, 'pacote is loaded by now')
})

test("Arborist's pacote loads without sigstore, which its verify loads when called", async () => {
  const pacoteMain = createRequire(require.resolve('@npmcli/arborist')).resolve('pacote')
  const file = createRequire(join(pacoteMain, '..', 'registry.js')).resolve('sigstore')
  assert.equal(deferSigstore(pacoteMain).applied, true, "pacote's shape changed: sigstore is no longer deferred")
  require('@npmcli/arborist')
  assert.deepEqual(sigstoreLoaded(file), [])
  // what pacote calls, through the stand-in (not called here: it would ask sigstore's TUF mirror) is the real verify
  const stand = require.cache[file]!.exports as { verify: unknown }
  const verify = stand.verify
  assert.ok(sigstoreLoaded(file).length > 50)
  assert.equal(typeof verify, 'function')
  assert.equal(verify, (require(file) as { verify: unknown }).verify)
})
