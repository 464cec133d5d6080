// The top self-time items of V8 CPU profiles (`node --cpu-prof`), summed over the files given:
//   npx tsx bench/profile-top.ts /tmp/prof/*.cpuprofile [TOP]
import { readFileSync } from 'node:fs'
import { z } from 'zod'

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
})

const args = process.argv.slice(2)
const top = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 20
const selfMs = new Map<string, number>()
let totalMs = 0
for (const file of args) {
  const p = profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')))
  const label = new Map<number, string>()
  for (const n of p.nodes) {
    const { functionName, url, lineNumber } = n.callFrame
    const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')
    label.set(n.id, `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim())
  }
  // timeDeltas[i] is the time before sample i, in microseconds.
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000
    totalMs += ms
    const key = label.get(id) ?? '?'
    selfMs.set(key, (selfMs.get(key) ?? 0) + ms)
  })
}
console.log(`${args.length} profile(s), ${totalMs.toFixed(0)} ms sampled`)
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${ms.toFixed(0).padStart(7)} ms  ${key}`)
}
