// Runs the ferry CLI in this process and writes its peak RSS (KiB) to the file named first.
import { writeFileSync } from 'node:fs'

const [file, ...args] = process.argv.slice(2)
process.argv = [process.argv[0], new URL('../bin/run.js', import.meta.url).pathname, ...args]
process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)))
await import('../bin/run.js')
