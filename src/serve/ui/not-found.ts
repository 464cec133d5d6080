/** A page, repository, tag or manifest that is not here: the UI answers 404 with a page saying which. */
export class UiNotFound extends Error {}
