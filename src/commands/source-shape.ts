/**
 * The shape guards of our glue under npm's libraries (the memos, the named-edge index) compare a
 * function's or a file's source with the one they were written against, whitespace aside: a
 * reformatted release still matches, any other change does not.
 */
export const squash = (text: string): string => text.replace(/\s+/g, ' ').trim()
