import { hostname, userInfo } from 'node:os'

/**
 * Who a ledger record says acted: `$FERRY_ACTOR` when set (a deploy bot names itself), else the CI
 * identity (GitHub Actions, GitLab CI, Jenkins), else `user@host`. A label for people reading the
 * ledger, as trustworthy as the environment that set it.
 */
export function ledgerActor(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_ACTOR) return env.FERRY_ACTOR
  if (env.GITHUB_ACTOR) {
    const run = [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID && `run ${env.GITHUB_RUN_ID}`].filter(Boolean)
    return `${env.GITHUB_ACTOR} (GitHub Actions${run.length ? ` ${run.join(' ')}` : ''})`
  }
  if (env.GITLAB_USER_LOGIN) {
    const run = [env.CI_PROJECT_PATH, env.CI_PIPELINE_ID && `pipeline ${env.CI_PIPELINE_ID}`].filter(Boolean)
    return `${env.GITLAB_USER_LOGIN} (GitLab CI${run.length ? ` ${run.join(' ')}` : ''})`
  }
  if (env.BUILD_USER_ID) return `${env.BUILD_USER_ID} (Jenkins${env.BUILD_TAG ? ` ${env.BUILD_TAG}` : ''})`
  if (env.BUILD_TAG) return `Jenkins ${env.BUILD_TAG}`
  let user: string
  try {
    user = userInfo().username
  } catch {
    // No passwd entry for this uid (a container run with an arbitrary uid).
    user = env.USER ?? `uid ${process.getuid?.() ?? '?'}`
  }
  return `${user}@${hostname()}`
}
