/**
 * What one client learned about blobs during its run, so that a request whose answer is already known
 * is not sent: a blob it saw (HEAD 200) or pushed is there, and a repository the caller found empty
 * (no tags at all, `knownEmpty`) holds none of the small blobs it is about to upload.
 *
 * Only small blobs are assumed absent from an empty repository: an interrupted earlier run may have left
 * large blobs there (a repository with blobs but no tag lists no tags), and for those the HEAD is what
 * spares the upload. Re-sending a small blob the registry already had costs about what the HEAD would.
 * Keys are `registry/repository`; every registry treats the same host the same way, so the registry part
 * is the host as written.
 */
export class BlobKnowledge {
  private readonly present = new Map<string, Set<string>>()
  private readonly empty = new Set<string>()
  /** Per `registry digest`: a repository known to hold the blob (a mount source). */
  private readonly homes = new Map<string, string>()

  markEmpty(registry: string, repository: string): void {
    this.empty.add(`${registry}/${repository}`)
  }

  seen(registry: string, repository: string, digest: string): void {
    const name = `${registry}/${repository}`
    let set = this.present.get(name)
    if (!set) {
      set = new Set()
      this.present.set(name, set)
    }
    set.add(digest)
    this.homes.set(`${registry} ${digest}`, repository)
  }

  /** True: known present; false: known absent; undefined: ask the registry. */
  has(
    registry: string,
    repository: string,
    digest: string,
    size: number,
    smallMax: number,
  ): boolean | undefined {
    const name = `${registry}/${repository}`
    if (this.present.get(name)?.has(digest)) return true
    if (this.empty.has(name) && size <= smallMax) return false
    return undefined
  }

  /** Another repository of the registry that holds the blob, to mount it from. */
  home(registry: string, digest: string, except: string): string | undefined {
    const repo = this.homes.get(`${registry} ${digest}`)
    return repo === except ? undefined : repo
  }
}
