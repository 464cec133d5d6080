import { setImmediate } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { createContext } from '../../../src/context.js'
import { TargetSet } from '../../../src/targets/open.js'

/** V8's collector, made callable in this process (as `node --expose-gc` would). */
function collector(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/**
 * Issue 30, goal 5: a sync opens one source target per image through one TargetSet. A registry
 * repository has nothing to close (the client's connections are closed with the set), so the set must not
 * keep it: it did, and every image's repository lived until the end of the run.
 */
describe('TargetSet', () => {
  it('keeps no registry target it handed out once its user lets go of it', async () => {
    const gc = collector()
    const ctx = createContext()
    const set = new TargetSet(ctx)
    // No request is made: a registry target is a name until it is asked something.
    const open = async (i: number) => new WeakRef((await set.openSource(`127.0.0.1:9/acme/app:${i}`)).target)
    const refs: WeakRef<object>[] = []
    for (let i = 0; i < 20; i++) refs.push(await open(i))
    // A WeakRef's target is held until the job that made it ends.
    await setImmediate()
    gc()
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0)
    await set.close()
    await ctx.close()
  })
})
