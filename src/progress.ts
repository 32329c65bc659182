/**
 * npm's progress spinner (a port of npm 11's `lib/utils/display.js` Progress): drawn on stderr
 * only when npm would draw it — the `progress` config on, stdout and stderr both terminals,
 * `TERM` not `dumb`, loglevel not silent — after 200 ms, so short runs show nothing; cleared
 * before every line written and drawn again after it, and cleared for good at the end.
 */
import type { Writable } from 'node:stream'

const DOTS = { duration: 80, frames: ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] }
const LINES = { duration: 130, frames: ['-', '\\', '|', '/'] }
const START_AFTER = 200

type Tty = Writable & { cursorTo?: (x: number) => boolean, clearLine?: (dir: -1 | 0 | 1) => boolean }

export interface Progress {
  /** Writes through the spinner: clears it, writes, draws it again. */
  write(write: () => void): void
  /** Clears the spinner for good. */
  off(): void
}

/** Whether npm would draw progress: `flatOptions.progress` as npm's definitions compute it. */
export function progressWanted (init: { progress: unknown, loglevel: string, stdout?: { isTTY?: boolean }, stderr?: { isTTY?: boolean } }): boolean {
  return init.progress === true && init.loglevel !== 'silent' &&
    (init.stdout ?? process.stdout).isTTY === true && (init.stderr ?? process.stderr).isTTY === true &&
    process.env.TERM !== 'dumb'
}

export function createProgress (init: { stream: Tty, enabled: boolean, unicode: boolean }): Progress {
  const { stream } = init
  const spinner = init.unicode ? DOTS : LINES
  let frame = 0
  let rendered = false
  let interval: NodeJS.Timeout | undefined
  let starting: NodeJS.Timeout | undefined

  const clear = (): void => {
    if (!rendered) return
    stream.cursorTo?.(0)
    stream.clearLine?.(1)
    rendered = false
  }
  const draw = (next: boolean): void => {
    if (next) frame = (frame + 1) % spinner.frames.length
    clear()
    stream.write(spinner.frames[frame])
    rendered = true
  }
  const start = (): void => {
    starting = undefined
    draw(false)
    interval = setInterval(() => draw(true), spinner.duration)
    interval.unref()
  }
  if (init.enabled) {
    starting = setTimeout(start, START_AFTER)
    starting.unref()
  }

  return {
    write (write) {
      const spinning = interval !== undefined
      if (spinning) clear()
      write()
      if (spinning) draw(false)
    },
    off () {
      clearTimeout(starting)
      clearInterval(interval)
      starting = undefined
      interval = undefined
      clear()
    },
  }
}
