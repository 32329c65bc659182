/**
 * Our options (src/options.ts) as one table: every row reachable as a flag, an environment
 * variable and an `.ipfs-npmrc` key, in that order of precedence, and documented in the README.
 */
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkOptions, DEFAULT_OPTIONS, extractFlags, OPTIONS, resolveOptions } from '../src/options.ts'
import { tempDir } from './helpers/temp-dir.ts'

/** Two values of each type, the first other than any default, as text and parsed. */
const SAMPLES = { list: '/ip4/10.0.0.1/tcp/1', boolean: 'false', number: '4242', string: '/some/file' }
const OTHERS = { list: '/ip4/10.0.0.2/tcp/2', boolean: 'true', number: '4343', string: '/other/file' }
const parse = (type: keyof typeof SAMPLES, text: string): unknown =>
  type === 'list' ? [text] : type === 'boolean' ? text === 'true' : type === 'number' ? Number(text) : text

test('every row is a flag, an env var and an .ipfs-npmrc key, flags over env over files', async () => {
  const dir = await tempDir('options')
  try {
    for (const [key, row] of Object.entries(OPTIONS)) {
      const sample = SAMPLES[row.type]
      const parsed = parse(row.type, sample)
      const flag = row.type === 'boolean' ? [`--no-${row.name}`] : [`--${row.name}`, sample]
      const { flags, rest } = extractFlags(['install', ...flag, 'lodash'])
      assert.deepEqual(rest, ['install', 'lodash'], `--${row.name} is taken out of npm's argv`)
      assert.deepEqual((flags as Record<string, unknown>)[key], parsed, `--${row.name}`)

      const fromEnv = resolveOptions({ flags: {}, env: { [row.env]: sample }, home: dir, projectDir: dir })
      assert.deepEqual((fromEnv as Record<string, unknown>)[key], parsed, row.env)

      await writeFile(join(dir, '.ipfs-npmrc'), `${row.name} = ${sample}\n`)
      const fromFile = resolveOptions({ flags: {}, env: {}, home: dir, projectDir: dir })
      assert.deepEqual((fromFile as Record<string, unknown>)[key], parsed, `${row.name} in .ipfs-npmrc`)
      const envOverFile = resolveOptions({ flags: {}, env: { [row.env]: OTHERS[row.type] }, home: dir, projectDir: dir })
      assert.deepEqual((envOverFile as Record<string, unknown>)[key], parse(row.type, OTHERS[row.type]), `${row.env} over the file`)
      const flagOverEnv = resolveOptions({ flags, env: { [row.env]: OTHERS[row.type] }, home: dir, projectDir: dir })
      assert.deepEqual((flagOverEnv as Record<string, unknown>)[key], parsed, `--${row.name} over ${row.env}`)
      await rm(join(dir, '.ipfs-npmrc'))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('the defaults pass every check, and a check fails where it should', async () => {
  await checkOptions(DEFAULT_OPTIONS)
  await assert.rejects(checkOptions({ ...DEFAULT_OPTIONS, port: 0 }), { code: 'EUSAGE', message: /--port: port must be 1-65535/ })
  await assert.rejects(checkOptions({ ...DEFAULT_OPTIONS, peers: ['nope'] }), { code: 'EUSAGE', message: /--peer: invalid multiaddr "nope"/ })
})

test('the README documents every option, and none that is not one', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const rows = readme.split('\n').filter((line) => /^\| `--/.test(line))
  for (const row of Object.values(OPTIONS)) {
    const line = rows.find((l) => l.includes(`\`--${row.name}`) || l.includes(`\`--no-${row.name}\``))
    assert.ok(line !== undefined, `README has a row for --${row.name}`)
    assert.ok(line.includes(row.env), `README names ${row.env}`)
    assert.ok(line.includes(`\`${row.name} =`), `README names ${row.name} = in .ipfs-npmrc`)
  }
  const documented = rows.map((l) => /^\| `--(?:no-)?([a-z-]+)/.exec(l)![1])
  assert.deepEqual(documented.filter((name) => !Object.values(OPTIONS).some((row) => row.name === name)), [])
})
