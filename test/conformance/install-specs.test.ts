/**
 * `install <specs>` adding packages (to an installed project and a fresh one, with -D, -E,
 * --no-save, ranges, a scoped package), workspaces (-w, --workspaces, run from a workspace
 * folder) and npm's command aliases. ipfs-npm must do what npm does.
 */
import type { PrepareContext } from '../helpers/conformance.ts'
import { describeConformance } from '../helpers/conformance-matrix.ts'
import type { MatrixCase } from '../helpers/conformance-matrix.ts'
import { npmBefore } from '../helpers/project-edits.ts'

/** The project as a user has it after `npm ci`: node_modules in place. */
const installed = (dir: string, context: PrepareContext): Promise<void> => npmBefore(dir, context, ['ci'])

const cases: MatrixCase[] = [
  // adding packages to an installed project
  { name: 'installed basic: install beta', project: 'basic', args: ['install', 'beta'], prepare: installed },
  { name: 'installed basic: install -D gamma@1.0.0', project: 'basic', args: ['install', '-D', 'gamma@1.0.0'], prepare: installed },
  { name: 'installed basic: install -E bundled-dep', project: 'basic', args: ['install', '-E', 'bundled-dep'], prepare: installed },
  { name: 'installed basic: install --no-save alpha@2.0.0', project: 'basic', args: ['install', '--no-save', 'alpha@2.0.0'], prepare: installed },
  { name: 'installed basic: install @fix/scoped-b (scoped registry, token)', project: 'basic', args: ['install', '@fix/scoped-b'], prepare: installed },
  { name: 'installed basic: install "beta@>=1.0.0 <1.1.0"', project: 'basic', args: ['install', 'beta@>=1.0.0 <1.1.0'], prepare: installed },
  { name: 'installed basic: install big (> 1 MiB tarball)', project: 'basic', args: ['install', 'big'], prepare: installed },
  { name: 'installed basic: install with-script (dependency script)', project: 'basic', args: ['install', 'with-script'], prepare: installed },
  { name: 'basic: install beta, not installed before', project: 'basic', args: ['install', 'beta'] },

  // workspaces
  { name: 'workspaces: install beta -w ws-c', project: 'workspaces', args: ['install', 'beta', '-w', 'ws-c'] },
  { name: 'workspaces: install -w packages/ws-a', project: 'workspaces', args: ['install', '-w', 'packages/ws-a'] },
  { name: 'workspaces: ci -w ws-b', project: 'workspaces', args: ['ci', '-w', 'ws-b'] },
  { name: 'installed workspaces: install gamma@1.0.0 -w ws-a', project: 'workspaces', args: ['install', 'gamma@1.0.0', '-w', 'ws-a'], prepare: installed },

  { name: 'workspaces: ci --workspaces', project: 'workspaces', args: ['ci', '--workspaces'] },
  { name: 'workspaces: install -w ws-a --include-workspace-root', project: 'workspaces', args: ['install', '-w', 'ws-a', '--include-workspace-root'] },
  { name: 'workspaces: install run inside a workspace folder', project: 'workspaces', args: ['install'], cwd: 'packages/ws-c' },
  { name: 'workspaces: ci run inside a workspace folder', project: 'workspaces', args: ['ci'], cwd: 'packages/ws-a' },

  // npm's aliases
  { name: 'basic: i', project: 'basic', args: ['i'] },
  { name: 'basic: clean-install', project: 'basic', args: ['clean-install'] },
  { name: 'basic: add beta', project: 'basic', args: ['add', 'beta'] },
  { name: 'basic: isntall', project: 'basic', args: ['isntall'] },
]

describeConformance('install with specs, workspaces and aliases', cases)
