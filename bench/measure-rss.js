// Runs the ferry CLI in this process and writes its peak RSS (KiB) to the file named first.
// FERRY_BIN=PATH runs another build's bin/run.js (bench/startup.ts compares two side by side).
import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [file, ...args] = process.argv.slice(2)
const bin = process.env.FERRY_BIN ?? new URL('../bin/run.js', import.meta.url).pathname
delete process.env.FERRY_BIN
process.argv = [process.argv[0], bin, ...args]
process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)))
await import(pathToFileURL(bin).href)
