/**
 * The parts of `@npmcli/arborist` the commands use (it ships no types). Arborist is loaded with
 * `require` only once a command runs, so passthrough commands never pay for it.
 */
export interface TreeNode {
  name: string
  packageName?: string
  version?: string
  location: string
  path: string
  resolved: string | null
  integrity: string | null
  package: Record<string, unknown> & { name?: string, version?: string, allowScripts?: unknown }
  isProjectRoot: boolean
  isWorkspace: boolean
  isLink: boolean
  isRegistryDependency: boolean
  inBundle: boolean
  inert?: boolean
  isInStore?: boolean
  dev?: boolean
  optional?: boolean
  inventory: Map<string, TreeNode>
}

export interface DiffNode {
  action: 'ADD' | 'REMOVE' | 'CHANGE' | null
  actual?: TreeNode
  ideal?: TreeNode
  children: DiffNode[]
}

export interface ArboristOptions extends Record<string, unknown> {
  path: string
  allowScripts?: Record<string, boolean> | null
  ignoreScripts?: boolean
}

export interface ArboristLike {
  options: ArboristOptions
  idealTree?: TreeNode
  actualTree?: TreeNode
  virtualTree?: TreeNode
  diff?: DiffNode
  auditReport?: unknown
  loadVirtual(opts?: Record<string, unknown>): Promise<TreeNode>
  loadActual(opts?: Record<string, unknown>): Promise<TreeNode>
  buildIdealTree(opts?: Record<string, unknown>): Promise<TreeNode>
  reify(opts?: Record<string, unknown>): Promise<TreeNode>
}

/** Arborist's lockfile as it loaded it, as far as it is used. */
export interface LoadedShrinkwrap {
  loadedFromDisk: boolean
  filename: string | null
  data: { packages: Record<string, { link?: boolean, resolved?: string }> } & Record<string, unknown>
  resolveOptions: Record<string, unknown>
}

/** Arborist's lockfile class, as far as it is used: loading a hidden lockfile, checked against node_modules. */
export interface ShrinkwrapClass {
  load(options: { path: string, hiddenLockfile?: boolean, resolveOptions?: Record<string, unknown> }): Promise<LoadedShrinkwrap>
}

export type ArboristClass = (new (options: ArboristOptions) => ArboristLike) & { Shrinkwrap: ShrinkwrapClass }
