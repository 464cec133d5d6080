// A process that holds a lock: `lock-holder.ts PATH STALE_MS` takes it, prints "held" and waits to be killed.
import { setTimeout as sleep } from 'node:timers/promises'
import { acquireLock } from '../../../src/util/lock.js'

const [path, staleMs] = process.argv.slice(2)
if (!path || !staleMs) throw new Error('usage: lock-holder PATH STALE_MS')
await acquireLock(path, { staleMs: Number(staleMs) })
process.stdout.write('held\n')
await sleep(600_000)
