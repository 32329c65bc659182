/** The `engines.node` range of package.json, e.g. `^22.22.2 || ^24.15.0 || >=26`. */
export const enginesRange: string
/** Whether `version` (default: this Node's) satisfies `engines.node`. */
export function supportedNode (version?: string): boolean
