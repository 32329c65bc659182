/** One JSON value per length-prefixed message: how our own small protocols talk. */
export const encodeJson = (value: object): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
export const decodeJson = (bytes: { subarray(): Uint8Array }): any => JSON.parse(new TextDecoder().decode(bytes.subarray()))
