/**
 * Keeps a garbage collection and the writes it could race apart, inside one server: a manifest PUT (it
 * checks that the blobs it names are here, then stores a manifest naming them) and a cross-repository
 * mount (it finds a blob, then links it) hold the gate shared; a collection's final mark and sweep hold
 * it alone. Once a collection waits, new writes wait behind it, so a steady stream of pushes cannot
 * starve it; the writes it waits for are short (blob bytes are not written under the gate: an upload's
 * blob is new, or freshened when it was there already, and a collection keeps what is young).
 */
export class WriteGate {
  private writers = 0
  private collecting = false
  private collectorsWaiting = 0
  private readonly parked: (() => void)[] = []

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.collecting || this.collectorsWaiting > 0) await this.park()
    this.writers++
    try {
      return await fn()
    } finally {
      this.writers--
      if (this.writers === 0) this.wake()
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.collectorsWaiting++
    try {
      while (this.writers > 0 || this.collecting) await this.park()
    } finally {
      this.collectorsWaiting--
    }
    this.collecting = true
    try {
      return await fn()
    } finally {
      this.collecting = false
      this.wake()
    }
  }

  private park(): Promise<void> {
    return new Promise((resolve) => this.parked.push(resolve))
  }

  // Everyone parked looks again: a collector goes first once no writer holds the gate.
  private wake(): void {
    for (const resume of this.parked.splice(0)) resume()
  }
}

/** `fn` as a write the gate keeps apart from a collection (no gate: no collection runs here). */
export const asWrite = <T>(gate: WriteGate | undefined, fn: () => Promise<T>): Promise<T> =>
  gate ? gate.shared(fn) : fn()
