/**
 * Setup a new user can follow: the engines range as `.ci/use-node.sh` and the launcher check it,
 * and the launcher (`bin/ipfs-npm.js`) run by a Node older than the range — as a new shell on a
 * machine with Node 20 runs it — doing its work with the Node `.ci/use-node.sh` put beside the
 * checkout, or saying in one line what to do when there is none.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { supportedNode } from '../bin/node-version.js'
import { runCommand } from './helpers/run-command.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const launcher = join(root, 'bin', 'ipfs-npm.js')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

test('the engines range, checked whole: ^22.22.2 || ^24.15.0 || >=26', () => {
  for (const v of ['22.22.2', '22.30.0', '24.15.0', '24.99.1', '26.0.0', '27.3.1']) assert.ok(supportedNode(v), v)
  for (const v of ['20.20.2', '22.22.1', '22.9.0', '23.11.0', '24.14.9', '25.1.0']) assert.ok(!supportedNode(v), v)
})

test('.ci/use-node.sh leaves a supported Node first on PATH, starting from the machine\'s own', async () => {
  // a new shell's PATH: the machine's node, whatever its version (.ci/run already ran the script once)
  const run = await runCommand('bash', ['-c', '. .ci/use-node.sh && node -p process.versions.node'], { cwd: root, timeoutMs: 300_000, env: { PATH: `/usr/local/bin:/usr/bin:/bin` } })
  assert.equal(run.code, 0, run.stderr)
  assert.ok(supportedNode(run.stdout.trim()), run.stdout)
})

test('the launcher under an older Node runs the one beside the checkout, or says what to do', async (t) => {
  // the machine's own node, when it is older than the range (Node 20 here); else nothing to test with
  const old = ['/usr/bin/node', '/usr/local/bin/node'].find((node) => existsSync(node) && !supportedNode(runVersion(node)))
  if (old === undefined) {
    t.diagnostic('no Node older than the range on this machine: the launcher only runs itself')
    const run = await runCommand(process.execPath, [launcher, 'version-ipfs'], { cwd: root })
    assert.equal(run.stdout.trim(), version)
    return
  }
  const run = await runCommand(old, [launcher, 'version-ipfs'], { cwd: root })
  const beside = join(root, '.ci', 'node', 'node_modules', `node-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`, 'bin', 'node')
  if (existsSync(beside)) {
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), version)
  } else {
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^ipfs-npm: Node\.js v\d+\.\d+\.\d+ is not supported; it needs \^22\.22\.2 \|\| \^24\.15\.0 \|\| >=26 .*Run `\. \.ci\/use-node\.sh`/)
  }
})

function runVersion (node: string): string {
  return execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
}
