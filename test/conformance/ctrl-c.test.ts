/**
 * Ctrl-C while tarballs are being fetched: npm (inside its reify) and ipfs-npm (in its fetch phase,
 * before reify) both say `npm error process terminated` / `npm error signal SIGINT` and exit 1, and
 * the cache they leave serves the next install. Ctrl-C while the plan is made (packuments asked
 * for): both die by the signal and print no error.
 */
import assert from 'node:assert/strict'
import { cp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fixtureProjectsDir, ipfsNpmBin } from '../helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { runCommand, type CommandResult } from '../helpers/run-command.ts'
import { removeDir, tempDir } from '../helpers/temp-dir.ts'

let registries: FixtureRegistries
let work: string
let userconfig: string

before(async () => {
  registries = await startFixtureRegistries()
  work = await tempDir('ctrl-c')
  userconfig = join(work, 'npmrc')
  await writeFile(userconfig, registries.npmrc(['fetch-retries=0']))
})
after(async () => {
  await registries.stop()
  await removeDir(work)
})

/**
 * Runs `npmCommand` with every registry answer slowed down, and SIGINT once the first tarball (or,
 * with `planning`, the first packument) is asked for.
 */
async function interrupted (tool: 'npm' | 'ipfs-npm', npmCommand = 'ci', planning = false): Promise<CommandResult & { dir: string, cache: string }> {
  const dir = join(work, tool, npmCommand, 'basic')
  const cache = join(work, tool, npmCommand, 'cache')
  await cp(join(fixtureProjectsDir, 'basic'), dir, { recursive: true })
  if (planning) await rm(join(dir, 'package-lock.json'))
  const args = [npmCommand, '--userconfig', userconfig, '--cache', cache]
  const [command, argv] = tool === 'npm' ? ['npm', args] : [process.execPath, [ipfsNpmBin, ...args, '--no-mdns']]
  const seen = registries.main.requests.length
  registries.main.faults.delayMs = 300
  let watching: ReturnType<typeof setInterval> | undefined
  try {
    const run = await runCommand(command, argv, {
      cwd: dir,
      timeoutMs: 60_000,
      onSpawn: (child) => {
        watching = setInterval(() => {
          if (!registries.main.requests.slice(seen).some((r) => r.path.includes('/-/') !== planning)) return
          clearInterval(watching)
          child.kill('SIGINT')
        }, 10)
      },
    })
    return { ...run, dir, cache }
  } finally {
    clearInterval(watching)
    registries.main.faults.delayMs = 0
  }
}

const errorLines = (run: CommandResult): string[] =>
  run.stderr.split('\n').filter((line) => line.startsWith('npm error') && !line.includes('A complete log'))

test('Ctrl-C while tarballs arrive: npm\'s two lines and exit code 1, and a sane cache after', async () => {
  const npm = await interrupted('npm')
  const ours = await interrupted('ipfs-npm')
  assert.equal(npm.code, 1, `npm: ${npm.stderr}`)
  assert.deepEqual(errorLines(npm), ['npm error process terminated', 'npm error signal SIGINT'], 'npm itself, as the control')
  assert.equal(ours.code, 1, `ipfs-npm: ${ours.stderr}`)
  assert.deepEqual(errorLines(ours), errorLines(npm))
  const again = await runCommand(process.execPath, [ipfsNpmBin, 'ci', '--userconfig', userconfig, '--cache', ours.cache, '--no-mdns'], { cwd: ours.dir })
  assert.equal(again.code, 0, again.stderr)
})

test('Ctrl-C while the plan is made: both die by the signal, silently, as npm has no handler yet', async () => {
  const npm = await interrupted('npm', 'install', true)
  const ours = await interrupted('ipfs-npm', 'install', true)
  assert.equal(npm.code, 130, `npm: ${npm.stderr}`)
  assert.deepEqual(errorLines(npm), [], 'npm itself, as the control')
  assert.equal(ours.code, 130, `ipfs-npm: ${ours.stderr}`)
  assert.deepEqual(errorLines(ours), [])
})
