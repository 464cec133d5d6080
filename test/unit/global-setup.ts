import { throwawayStateDir } from '../helpers/state-dir.js'

/** The unit suite needs no program installed: only the throwaway state directory. */
export default function setup() {
  return throwawayStateDir()
}
