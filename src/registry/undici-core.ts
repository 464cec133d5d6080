import { createRequire } from 'node:module'
import type * as Undici from 'undici'

/**
 * The two pieces of undici ferry uses, the connection pools and the request API, without the rest.
 * undici's index loads all of it (fetch, WebSocket, EventSource, caches, mocks): about 70 ms of every
 * command's start-up on a 2-core machine, against 25 ms for these (bench/README.md). The index does the
 * same `Object.assign` to give every dispatcher its `request` method.
 */
const require = createRequire(import.meta.url)
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'))

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool
