/**
 * The plan (DESIGN step 5) as tarballs: from Arborist's ideal tree, what reify will extract.
 */
import type { FetchPhaseItem } from '../fetch-phase.ts'
import { registryTarballUrl } from '../registry/upstream.ts'
import type { TreeNode } from './arborist-types.ts'

type PlannedNode = TreeNode & { shouldOmit?(omit: Set<string>): boolean }

/** Whether reify will extract a tarball for `node` (not a link, root, bundled or omitted dependency). */
function extracts (node: PlannedNode, omit: Set<string>): boolean {
  if (node.isProjectRoot || node.isWorkspace || node.isLink || node.inBundle || node.inert) return false
  if (node.shouldOmit?.(omit)) return false
  // a lockfile may hold anything: an integrity that is not a string is left to reify, as npm would
  return typeof node.integrity === 'string' && (node.resolved === null || /^https?:/.test(node.resolved))
}

export interface PlanInit {
  omit: Set<string>
  registryFor: (name: string) => string
  /** Fill in missing registry `resolved` URLs (only where no lockfile will be written with them). */
  fillResolved: boolean
}

/**
 * The tarballs reify will need for `ideal`, skipping what `actual` already has in place.
 * Registry packages whose lockfile omits `resolved` get the URL npm would use, so pacote can
 * read them from the cache by digest without asking for their packument first.
 */
export function plannedTarballs (ideal: TreeNode, actual: TreeNode | undefined, init: PlanInit): FetchPhaseItem[] {
  const items: FetchPhaseItem[] = []
  for (const node of ideal.inventory.values()) {
    if (!extracts(node, init.omit)) continue
    const version = node.version ?? node.package.version ?? ''
    const name = node.packageName ?? node.name
    // a malformed lockfile can make these anything: such entries are reify's to report, as npm does
    if (typeof version !== 'string' || typeof name !== 'string') continue
    const present = actual?.inventory.get(node.location)
    if (present && present.version === version && present.packageName === name && present.integrity === node.integrity) continue
    if (init.fillResolved && node.resolved === null && node.isRegistryDependency) node.resolved = registryTarballUrl(init.registryFor(name), name, version)
    items.push({
      ref: { name, version, integrity: node.integrity as string, resolved: node.resolved ?? undefined },
      optional: node.optional === true,
    })
  }
  return items
}
