/**
 * Prometheus text exposition (format 0.0.4), counters and gauges only: what `/metrics` needs, without a
 * client library. Series are kept by their label values; a gauge may instead be read at scrape time.
 */

export type Labels = Record<string, string>

interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge'
  series: Map<string, { labels: Labels; value: number }>
  /** Series read when scraped, from numbers another module keeps, instead of set here. */
  read?: () => { labels?: Labels; value: number }[]
}

// Label values: backslash, double quote and line feed are escaped (exposition format, "Text format details").
const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
// HELP text: backslash and line feed.
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort()
  if (keys.length === 0) return ''
  return `{${keys.map((k) => `${k}="${escapeValue(labels[k]!)}"`).join(',')}}`
}

const formatValue = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN')

export interface Counter {
  inc(labels?: Labels, by?: number): void
}

export interface Gauge {
  set(value: number, labels?: Labels): void
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>()

  private family(name: string, help: string, type: Family['type']): Family {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`)
    const f: Family = { name, help, type, series: new Map() }
    this.families.set(name, f)
    return f
  }

  private static put(f: Family, labels: Labels, update: (v: number) => number): void {
    for (const k of Object.keys(labels)) if (!LABEL_RE.test(k)) throw new Error(`invalid label name ${k}`)
    const key = labelText(labels)
    const s = f.series.get(key) ?? { labels, value: 0 }
    s.value = update(s.value)
    f.series.set(key, s)
  }

  counter(name: string, help: string): Counter {
    const f = this.family(name, help, 'counter')
    return {
      inc: (labels = {}, by = 1) => {
        // A counter only goes up: a negative step is a caller's bug, not something to expose.
        if (by >= 0) MetricsRegistry.put(f, labels, (v) => v + by)
      },
    }
  }

  gauge(name: string, help: string): Gauge {
    const f = this.family(name, help, 'gauge')
    return { set: (value, labels = {}) => MetricsRegistry.put(f, labels, () => value) }
  }

  /**
   * A family whose series are read at each scrape: open upload sessions, or counters the cache and the
   * policy keep for their own pages too (one count, two readers).
   */
  collected(
    name: string,
    help: string,
    type: Family['type'],
    read: () => { labels?: Labels; value: number }[],
  ): void {
    this.family(name, help, type).read = read
  }

  /** The current value of one series (0 when it has none yet). */
  value(name: string, labels: Labels = {}): number {
    const f = this.families.get(name)
    if (f?.read) return f.read().find((s) => labelText(s.labels ?? {}) === labelText(labels))?.value ?? 0
    return f?.series.get(labelText(labels))?.value ?? 0
  }

  /** The exposition: every family with its HELP and TYPE, series sorted by their labels. */
  render(): string {
    const out: string[] = []
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`)
      const series = f.read
        ? f.read().map((s) => ({ labels: s.labels ?? {}, value: s.value }))
        : [...f.series.values()]
      const lines = series.map((s) => `${f.name}${labelText(s.labels)} ${formatValue(s.value)}`)
      out.push(...lines.sort())
    }
    return `${out.join('\n')}\n`
  }
}

/** The content type Prometheus scrapes the text format with. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
