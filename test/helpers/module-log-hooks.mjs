// The loader hook of module-log.mjs: every ES module loaded, as its URL.
import { appendFileSync } from 'node:fs'

let log
export function initialize(data) {
  log = data.log
}

export async function load(url, context, next) {
  appendFileSync(log, `${url}\n`)
  return next(url, context)
}
