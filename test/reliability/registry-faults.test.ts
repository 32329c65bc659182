/**
 * The registry failing under a real `ipfs-npm ci` / `install`: down, timing out, answering 500,
 * serving a corrupt tarball. Each is run by the real npm and by ipfs-npm side by side (each
 * against its own registry pair with the same fault): ipfs-npm must fail as npm fails (non-zero
 * exit, npm's error code), no slower than npm plus a small bound, with no more requests for the
 * failing tarball than npm made (no retries hidden in the shim), and leave the project tree
 * exactly as npm leaves it.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import type { CommandResult } from '../helpers/run-command.ts'
import { diffTrees, snapshotTree } from '../helpers/tree-snapshot.ts'
import { createWorkspace, errorCode, fastUserconfig, ipfsNpm, npm, report, stackLines, type Workspace } from './helpers.ts'

/** What ipfs-npm may cost on top of npm's own time for the same failure. */
const ADDED_BOUND_MS = 5000
const FAILING = { name: 'alpha', version: '1.1.0', path: '/alpha/-/alpha-1.1.0.tgz' }

type Fault = 'down' | 'timeout' | '500' | 'corrupt'

function inject (registries: FixtureRegistries, fault: Fault): Promise<void> | void {
  switch (fault) {
    case 'down': return registries.main.down()
    case 'timeout': registries.main.faults.pathDelayMs.set(FAILING.path, 20_000); return
    case '500': registries.main.faults.status.set(FAILING.path, 500); return
    case 'corrupt': registries.main.faults.corrupt.add(`${FAILING.name}@${FAILING.version}`)
  }
}

let ws: Workspace
/** The basic project after a good install: node_modules present, the hidden lockfile without URLs. */
let installed: string

before(async () => {
  ws = await createWorkspace('registry-faults')
  const registries = await startFixtureRegistries()
  try {
    installed = await ws.project('basic')
    const userconfig = await fastUserconfig(registries, ws.root)
    const result = await npm(['ci', '--userconfig', userconfig, '--cache', join(ws.root, 'prep-cache')], installed)
    assert.equal(result.code, 0, result.stderr)
  } finally {
    await registries.stop()
  }
})
after(() => ws.cleanup())

interface ToolOutcome { run: CommandResult, requests: number, tree: Awaited<ReturnType<typeof snapshotTree>> }

/** One tool's run of `command` on a copy of the installed project, against its own faulty registries. */
async function runWithFault (tool: 'npm' | 'ipfs-npm', command: 'ci' | 'install', fault: Fault): Promise<ToolOutcome> {
  const registries = await startFixtureRegistries()
  try {
    const dir = await ws.project('basic', installed)
    // install has nothing to do while node_modules is complete: take the failing package away
    if (command === 'install') await rm(join(dir, 'node_modules', FAILING.name), { recursive: true })
    const userconfig = await fastUserconfig(registries, ws.root)
    await inject(registries, fault)
    const args = [command, '--userconfig', userconfig, '--cache', join(dir, '..', 'cache')]
    const run = tool === 'npm' ? await npm(args, dir) : await ipfsNpm(args, dir)
    const requests = registries.main.requests.filter((r) => r.path === FAILING.path).length
    return { run, requests, tree: await snapshotTree(dir) }
  } finally {
    await registries.stop()
  }
}

for (const command of ['ci', 'install'] as const) {
  describe(`ipfs-npm ${command} with the registry failing`, () => {
    for (const fault of ['down', 'timeout', '500', 'corrupt'] as const) {
      test(`${fault}: npm's error, fast, non-zero exit, the tree left as npm leaves it`, async () => {
        const [n, i] = await Promise.all([runWithFault('npm', command, fault), runWithFault('ipfs-npm', command, fault)])
        const detail = `npm (exit ${n.run.code}, ${n.run.ms} ms):\n${n.run.stderr}\nipfs-npm (exit ${i.run.code}, ${i.run.ms} ms):\n${i.run.stderr}`
        assert.notEqual(i.run.code, 0, detail)
        assert.equal(i.run.code, n.run.code, detail)
        assert.equal(errorCode(i.run), errorCode(n.run), detail)
        assert.deepEqual(stackLines(i.run), [], 'no stack trace')
        assert.ok(i.run.ms <= n.run.ms + ADDED_BOUND_MS, `ipfs-npm took ${i.run.ms} ms, npm ${n.run.ms} ms\n${detail}`)
        assert.ok(i.requests <= Math.max(n.requests, 1), `requests for the failing tarball: ipfs-npm ${i.requests}, npm ${n.requests}`)
        assert.deepEqual(diffTrees(n.tree, i.tree, ['npm', 'ipfs-npm']), [], 'the project tree as npm leaves it')
        report(`registry ${fault} during ${command}`, `exit ${i.run.code} ${errorCode(i.run)} (npm: ${n.run.code} ${errorCode(n.run)}); ${i.run.ms} ms vs npm ${n.run.ms} ms (added ${i.run.ms - n.run.ms} ms); requests ${i.requests} vs ${n.requests}; tree = npm's`)
      })
    }
  })
}

test('a corrupt tarball under npm\'s default retry back-off (10 s, 60 s): the error comes in seconds', async () => {
  const registries = await startFixtureRegistries()
  try {
    const dir = await ws.project('basic')
    const userconfig = join(ws.root, 'npmrc-defaults')
    await registries.writeUserconfig(userconfig, ['omit-lockfile-registry-resolved=true'])
    registries.main.faults.corrupt.add(`${FAILING.name}@${FAILING.version}`)
    const run = await ipfsNpm(['ci', '--userconfig', userconfig, '--cache', join(dir, '..', 'cache')], dir, { timeoutMs: 90_000 })
    assert.equal(errorCode(run), 'EINTEGRITY', run.stderr)
    assert.ok(run.ms < 10_000, `took ${run.ms} ms: the other fetches, aborted, were retried with back-off`)
    report('corrupt tarball, npm default retries (ci)', `exit ${run.code} EINTEGRITY in ${run.ms} ms (before the fix: ~72 s)`)
  } finally {
    await registries.stop()
  }
})
