import { isAttachmentTag } from '../reference/grammar.js'

/**
 * The attachment tags (cosign's `sha256-HEX.sig|att|sbom`, the tag-schema `sha256-HEX` index) one
 * complete tag listing of a repository showed (`tags/list`, every page). Any other attachment tag is
 * known to be absent, so nobody need ask for it: on a registry without the referrers API that is four
 * lookups per manifest (three HEADs and the index's GET) the listing already answered. Only attachment
 * tags are kept, a few per signed image, whatever the number of version tags.
 *
 * A listing is a snapshot: an attachment pushed after it is seen by the next run's listing, as one
 * pushed just after a HEAD would be.
 */
export class ListedAttachments {
  private readonly present = new Set<string>()

  constructor(listing: Iterable<string>) {
    for (const tag of listing) if (isAttachmentTag(tag)) this.present.add(tag)
  }

  /** True when the listing shows that this attachment tag does not exist; false for any other tag. */
  absent(tag: string): boolean {
    return !this.present.has(tag) && isAttachmentTag(tag)
  }

  /** The listing holds no attachment tag at all: nothing in the repository is attached by tag. */
  get none(): boolean {
    return this.present.size === 0
  }
}
