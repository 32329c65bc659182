/**
 * npm's progress spinner: drawn on a terminal during an install that takes a while (a registry
 * that answers slowly), as npm draws it; not with `--no-progress`; never when output is not a
 * terminal, so logs and CI output stay exactly npm's. The terminal is a real pseudo-terminal
 * (util-linux `script`).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { join } from 'node:path'
import { startFixtureRegistries, type FixtureRegistries } from './helpers/fixture-registries.ts'
import { runCommand } from './helpers/run-command.ts'
import { createWorkspace, fastUserconfig, ipfsNpmBin, type Workspace } from './reliability/helpers.ts'

const FRAMES = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/

let registries: FixtureRegistries
let ws: Workspace
let userconfig: string

const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`

/** `ipfs-npm ci` in a fresh copy of the basic project and cache, under a pseudo-terminal when `tty`. */
async function ci (flags: string[], tty: boolean): Promise<{ code: number, output: string }> {
  const dir = await ws.project('basic')
  const args = [ipfsNpmBin, 'ci', '--userconfig', userconfig, '--cache', join(dir, '..', 'cache'), '--no-mdns', ...flags]
  const env = { TERM: 'xterm', LC_ALL: 'C.UTF-8', CI: '' }
  const run = tty
    ? await runCommand('script', ['-qefc', [process.execPath, ...args].map(quote).join(' '), '/dev/null'], { cwd: dir, env })
    : await runCommand(process.execPath, args, { cwd: dir, env })
  return { code: run.code, output: run.stdout + run.stderr }
}

before(async () => {
  registries = await startFixtureRegistries()
  // every answer a little late: the install takes long enough for the spinner (200 ms)
  registries.main.faults.delayMs = 150
  ws = await createWorkspace('progress')
  userconfig = await fastUserconfig(registries, ws.root, ['progress=true'])
})

after(async () => {
  await registries.stop()
  await ws.cleanup()
})

test('on a terminal, npm\'s spinner turns while the install runs, and is cleared before the summary', async () => {
  const run = await ci([], true)
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, FRAMES)
  // each frame is drawn over the last: cursor to column 0, clear the line
  assert.match(run.output, /\x1b\[1G\x1b\[0K|\x1b\[0G\x1b\[0K|\r\x1b\[K/)
  assert.match(run.output, /added \d+ packages/)
})

test('--no-progress on a terminal: no spinner', async () => {
  const run = await ci(['--no-progress'], true)
  assert.equal(run.code, 0, run.output)
  assert.doesNotMatch(run.output, FRAMES)
  assert.match(run.output, /added \d+ packages/)
})

test('not a terminal: no spinner, and nothing but npm\'s lines', async () => {
  const run = await ci([], false)
  assert.equal(run.code, 0, run.output)
  assert.doesNotMatch(run.output, FRAMES)
  assert.doesNotMatch(run.output, /\x1b\[/)
})
