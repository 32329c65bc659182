#!/usr/bin/env node
// The launcher. Checked before anything else loads: our bundle needs what Node.js 22.22 brought.
// On an older Node (a machine's Node 20, say) it runs the Node that `.ci/use-node.sh` installed
// beside the checkout instead, so `ipfs-npm` works from any shell, whatever `node` is on its PATH.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import nodeModule from 'node:module'
import { fileURLToPath } from 'node:url'
import { enginesRange, supportedNode } from './node-version.js'

if (supportedNode()) {
  // as npm's own cli.js does: V8's compiled code kept on disk (about 30 ms of an install's start here)
  nodeModule.enableCompileCache?.()
  await import('../dist/cli.js')
} else {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
  const ours = fileURLToPath(new URL(`../.ci/node/node_modules/node-linux-${arch}/bin/node`, import.meta.url))
  const version = existsSync(ours) ? spawnSync(ours, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() : undefined
  if (version === undefined || !supportedNode(version)) {
    process.stderr.write(`ipfs-npm: Node.js ${process.version} is not supported; it needs ${enginesRange} (as npm does). ` +
      `Run \`. .ci/use-node.sh\` in the ipfs-npm checkout once to install one beside it.\n`)
    process.exit(1)
  }
  const run = spawnSync(ours, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  if (run.signal !== null) process.kill(process.pid, run.signal)
  process.exit(run.status ?? 1)
}
