import type { CommandName } from './args';

const GLOBAL = `Global options (before or after the command):
  -c, --config FILE     the rotator configuration (default: $KEY_ROTATOR_CONFIG, else the sandbox line's
                        configFile, else ./rotator.config.json)
      --region REGION   AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, or the AWS profile's region)
      --endpoint URL    one AWS endpoint for every service, e.g. the local cloud (default: $AWS_ENDPOINT_URL)
      --sandbox FILE|-  read endpoint, region and credentials from the JSON line \`npm run sandbox\` prints
                        (a file, or - for stdin: npm run sandbox | key-rotator --sandbox - audit)
  -v, --verbose         show the engine's log lines and, on failure, the error's details and stack
  -h, --help            this help; key-rotator <command> --help for one command
  -V, --version         the version

AWS credentials come from the usual chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance
role…) unless --sandbox gives them.

Exit codes:
  0  done, every check passed
  1  a check or a rotation failed, the configuration is invalid, or AWS/Jenkins could not be used
  2  usage error: unknown command or option, missing or extra argument

Output: results on stdout (--json: one JSON document), progress, warnings and errors on stderr. Errors are one
line (key-rotator: error: …); --verbose adds the details. No secret access key, token or password is ever
printed: reports name keys by their access key id.`;

const COMMAND_HELP: Record<CommandName, string> = {
  audit: `Usage: key-rotator audit [--format table|json|csv] [--fail-on-stale [--include-unmanaged]] [--credential-report]

Every IAM user's access keys, read-only: age in days, status, last used (date and service), whether the
configuration manages the user (and under which key name), when the next rotation is due (managed active keys:
created + maxAgeDays; otherwise -), and a STALE flag for active keys at or past their max age (unmanaged keys:
the default maxAgeDays). Managed users in other accounts are read through their assumeRoleArn. Without a
configuration file (none given and no ./rotator.config.json), every key is shown as unmanaged.

First, under Problems (most severe first, each with the command that fixes it and whether the scheduled scan
repairs it by itself), what is wrong with the managed keys' rotations, read from IAM and each key's secret:
  - a rotation in flight (AWSPENDING) and its age; one running right now is only noted
  - an AWSPENDING whose key no longer exists (that rotation can never complete)
  - an AWSCURRENT whose previous key is still active (a finish that did not complete), or was reactivated
  - a previous key that is inactive but whose deactivation was never recorded (the clean-up never deletes it)
  - a user with a second active key nobody records, or an orphan key of a rotation attempt that died
and what could not be read.

Options:
  --format FORMAT      table (the default), json or csv:
                         json: one JSON document on stdout (fields: takenAt, accountId, source, users[].keys[],
                               problems[]: key, user, kind, severity, message, fix, repair)
                         csv:  one row per access key, RFC 4180 with a header line: accountId, userName,
                               managedKey, accessKeyId, status, createDate, ageDays, lastUsedDate,
                               lastUsedService, maxAgeDays, rotationDue, stale, deactivatedAt, deletionDue
                               (the values of --json; empty for none); problems are not in it
  --json               the same as --format json
  --fail-on-stale      exit 1 when an active managed key is at or past its max age (a CI gate)
  --include-unmanaged  with --fail-on-stale: unmanaged keys past the default max age fail it too
  --credential-report  discover users through the IAM credential report when it is fresh (may ask IAM to generate
                       one: iam:GenerateCredentialReport); by default users are listed (ListUsers), read-only

Exit 1 when a problem of severity error exists (it blocks rotations or leaves a key working that should not be)
or a rotation is unfinished with nothing running it (it blocks every later rotation), or part of the account
could not be read; with --fail-on-stale, also when a key is past its max age. The report is printed either way.`,
  plan: `Usage: key-rotator plan [--json] [--rotation-lambda-arn ARN] [--credential-report]

What the next scheduled run would do, read-only (nothing is changed anywhere): the rotation problems it would
repair by itself first (finish a promoted rotation whose old key is still active; abandon a rotation in flight
older than abandonStuckAfterHours) and those it would only report, each with the command that fixes it (as in
audit, under Problems); which managed keys it would rotate and which it skips (with why), and a due rotation
that would delete the rollback key of the last one (inside its grace period); which deactivated keys it would
delete after their grace period, which rotations are in progress or stuck, and which unmanaged keys it would
report. It also checks each configured Jenkins credential: the API token is readable, the store is visible, the
credential exists (or may be created) and has a kind that can hold the key, and the rotator's user may write it
(Credentials/Update, or Create), proven without writing: a POST Jenkins refuses after its permission check and
before any change (403: not writable; it leaves a parse failure in Jenkins' log).

Options:
  --json                      one JSON document on stdout (fields: now, accountId, problems[], decisions[],
                              jenkins[], ok)
  --rotation-lambda-arn ARN   the rotation function the scan would set on secrets without one
                              (default: $ROTATION_LAMBDA_ARN, as in the deployed scan; with --sandbox, the
                              rotation function the demo sandbox deployed)
  --credential-report         as for audit

Exit 1 when the run would fail for a key, would leave a problem of severity error, or a Jenkins credential check
fails.`,
  rotate: `Usage: key-rotator rotate <user> [--yes] [--delete-old] [--json]
       key-rotator rotate <user> --resume [--force] [--yes] [--delete-old] [--json]
       key-rotator rotate <user> --abandon [--force] [--json]
       key-rotator rotate <user or AKIA…> --emergency [--reason TEXT] [--delete-old] [--json]

Rotates the managed key of IAM user <user> (or of the managed key named <user>) now, in this process, through
the same four steps as the rotation Lambda: create the new key and store it as AWSPENDING, wait until IAM has
propagated it (progress on stderr) and write it into every Jenkins credential, verify it (STS, ECR, Jenkins,
canary job), promote it to AWSCURRENT and deactivate the old key. A failed rotation is undone: Jenkins back on
the old key, which stays active; the new key deleted. If it cannot be undone (Jenkins unreachable), the report
lists what it left with the command that fixes it. A rotation already in flight is refused, naming the way out.

The user has room for two keys: a rotation deletes an inactive key to make room. If that key is the last
rotation's rollback key (deactivated less than deleteAfterDays ago), rotate stops before any change and says
which key it would delete: confirm with --yes.

Options:
  --resume         continue the rotation in flight (AWSPENDING) from where it stopped, with its own token; or,
                   when the last rotation was promoted but its old key is still active or unrecorded, finish it
                   (the old key is deactivated only once every Jenkins credential holds the current key)
  --abandon        undo the rotation in flight: every Jenkins credential back on the current key, the pending key
                   deleted, AWSPENDING removed; a plain rotate works again. Nothing is deleted while a Jenkins
                   credential cannot be checked
  --force          with --resume or --abandon: the rotation is recorded as running in another invocation (its
                   lease has not run out), but you know that invocation is gone (a killed CLI, a dead machine)
  -y, --yes        go ahead even if making room deletes the last rotation's rollback key
  --emergency      the key leaked: the old key is deactivated as soon as the new key is stored, even if Jenkins
                   or the verification then fail, and a rotation in progress is taken over. <user> may also be
                   the leaked access key id (AKIA…): a key that is not the current one is only revoked.
                   An emergency never asks for confirmation.
  --reason TEXT    with --emergency: why, recorded in the report and the logs
                   (default: "emergency rotation from the key-rotator CLI")
  --delete-old     delete the old key instead of leaving it inactive (at once with --emergency, otherwise after
                   the rotation succeeded); also confirms deleting a rollback key to make room
  --json           print the report as one JSON document (a failed rotation adds problems[]: what it left, each
                   with its fix; with --resume or --abandon: what was found, the outcome, the continued
                   rotation's report, the actions)

Ctrl-C stops at the next wait and undoes the rotation (a second Ctrl-C quits at once).
Exit 1 when the rotation failed or needs a confirmation (with --emergency: when anything but a clean rotation
or revocation happened; with --resume or --abandon: when it failed; nothing to do is exit 0).`,
  check: `Usage: key-rotator check [--key NAME] [--fail-on high|medium|low] [--emit-policy DIR] [--json]

The security checklist, read-only (nothing is changed anywhere). Each finding has a severity, the resource (ids,
never a secret), what is wrong and the exact fix:
  - least privilege of each managed IAM user (its attached, inline and group policies at their default versions):
    AmazonEC2ContainerRegistryFullAccess or PowerUser, wildcard actions or resources, ECR actions beyond pushing,
    any permission outside ECR; and the least-privilege push policy it should have instead;
  - the user: a console password (and no MFA), a second active key, a key never used or idle for more than
    checks.unusedKeyDays, one user behind several environments, one key in several Jenkins controllers;
  - CloudTrail: a trail logging management events in each account and region of the managed keys;
  - Jenkins (with the rotator's Jenkins user): access keys written in job, folder and agent configurations and in
    the global environment variables (never the value), Configuration-as-Code managing a managed credential, and
    any credential not holding the current key.
What cannot be read (a missing permission, a Jenkins item the user may not see) is listed under NOT CHECKED: it is
not known to be clean.

Options:
  --key NAME          only this managed key (its name or IAM user)
  --fail-on LEVEL     exit 1 when a finding is at least this severe (high, medium or low): a CI gate
  --emit-policy DIR   write each managed key's least-privilege push policy to DIR/<key>.policy.json, ready for
                      aws iam put-user-policy (nothing is attached: no policy is ever changed)
  --json              { "findings": [{ "check", "severity", "resource", "title", "detail", "fix" }], "notChecked",
                        "policies", "counts" }

Exit 0 unless --fail-on finds something at that level (1); items not checked never pass for clean but do not fail.`,
  doctor: `Usage: key-rotator doctor [--key NAME] [--json]

Checks, from this machine, what a rotation needs from each Jenkins target of each managed key, in order, each
with ok/FAIL, its cause and the fix:
  secrets     the token secret (and the CA certificate secret) can be read; configured CA certificates valid
  dns         the URL's host resolves (the addresses, and whether they are private: RFC 1918, ULA, CGNAT)
  tcp         a connection to the port opens (ECONNREFUSED: nothing listens; ETIMEDOUT: something drops it)
  tls         the served chain (subject, issuer, expiry) verifies with the public CAs + caCertificates, for the host
  auth        the token is accepted (as which user: /whoAmI), with Overall/Read
  credential  the store is visible and the credential exists with a kind that holds a key (Credentials/View)
  update      Credentials/Update, probed with a POST Jenkins refuses after its permission check and before any
              change (a body that is not XML: 500 = granted, 403 = missing)
  create      Credentials/Create with createIfMissing, probed the same way (no Content-Type: 400 = granted)
  canary      the canary job is visible (Job/Read) and enabled; Job/Build is not provable without a build
Then the deployment mode that fits the target: direct (the default Lambda reaches Jenkins over HTTPS), VPC
(Jenkins is on a private network AWS has a route to), or self-rotation (nothing from AWS reaches Jenkins).

The rotation runs in Lambda, whose network differs from this machine's: the deployed scan function answers the
same checks from there when invoked with {"action":"doctor"} (optionally "key": NAME).

Options:
  --key NAME   only the managed key NAME (a key name or its IAM user)
  --json       one JSON document on stdout (fields: from, fromDetail, checkedAt, ok, targets[].checks[], mode, node)

Exit 1 when any target fails a check.`,
  keyless: `Usage: key-rotator keyless plan <key> [--out DIR] [--job PATH]... [--folder PATH]... [--json]
       key-rotator keyless apply <key> [--canary JOB]... [--retire-key [--credential keep|delete]] [--json]
       key-rotator keyless rollback <key> [--json]

Moves a managed key's pipelines from the long-lived IAM user key to Jenkins' ID tokens (the OpenID Connect Provider
plugin, oidc-provider) exchanged with sts:AssumeRoleWithWebIdentity for credentials that expire within the hour,
and retires the key only after that is proven.

  plan      read-only: the ID-token credential next to each of the key's Jenkins credentials, the IAM OIDC provider
            of its issuer, one role per Jenkins scope that used the key (a folder store's folder, or each job that
            names a system-store credential) with a trust policy on aud and sub for exactly those jobs and the
            least-privilege push policy, what happens to the key, and what blocks the migration. --out DIR writes
            the CloudFormation template, a Jenkinsfile per role, the credential and the plan.
  apply     creates what the plan says (the credential through Jenkins' credentials API; the provider and roles
            through IAM), runs each --canary job (default the key's canary) with AWS_ROLE_ARN, and proves each role
            in CloudTrail: a web-identity session of the role, from a job of its scope, logged in to ECR. Safe to
            run again: it picks up where it stopped.
            --retire-key, once every role is proven and the key is unused since: deactivates the key (and checks
            AWS refuses it), records it for deletion after deleteAfterDays, keeps (or with --credential delete,
            deletes) the Jenkins AWS credential, marks the key keyless and turns off its rotation schedule.
  rollback  the key path back: the keyless mark removed, a new key through the normal rotation (Jenkins
            credentials re-created where deleted). The roles stay.

Options:
  --out DIR           plan: write the files there
  --job PATH          plan/apply: admit this job (a system-store credential's jobs are found from their
                      configuration, which a Pipeline from SCM does not show); repeatable
  --folder PATH       plan/apply: admit every job under this folder; repeatable
  --audience AUD      the token audience (default sts.amazonaws.com)
  --canary JOB        apply: run this job as proof (it must bind the ID-token credential and use AWS_ROLE_ARN, as
                      the plan's Jenkinsfile does); repeatable, one per scope
  --retire-key        apply: retire the long-lived key after the proof
  --credential MODE   with --retire-key: keep (default) or delete the Jenkins AWS credential
  --proof-timeout S   apply: how long to wait for CloudTrail to show the proof (default 900: its history lags)
  --json              the plan or the report as JSON

Exit 1 when the plan is blocked, or apply or rollback stopped (the key untouched unless the report says so).`,
  report: `Usage: key-rotator report --html FILE [--json] [--no-checks] [--credential-report]
       key-rotator report --json

The key report, read-only, for people who want to look rather than read: one self-contained HTML file (inline
CSS and SVG, no script, nothing loaded from the network: it works offline and as an e-mail attachment; light and
dark colour schemes) with
  - every IAM user's access keys, managed or not: status, age, last used (date and service), the managed key's
    name, the rotation line (maxAgeDays; the default for unmanaged keys), the due date, STALE;
  - a chart of each key's age against its rotation line, most urgent first;
  - each managed key's rotation history: the keys it has had, when each came (created, stored in Secrets
    Manager) and went (deactivated by the rotator, deleted), a rotation in flight, attempts that died, and its
    rotation problems with their fixes (as in audit);
  - the findings of the security checks (as key-rotator check), unless --no-checks.
It holds ids, dates and reasons only: from each secret version only the access key id is read.

Options:
  --html FILE          write the HTML page to FILE (its folder is created; the file is replaced whole)
  --json               print the report's data on stdout, the model the page is drawn from (fields: takenAt,
                       accountId, keys[], histories[].generations[], timeline[], problems[], checks, counts)
  --no-checks          skip the security checks (they read each managed user's policies, CloudTrail and the
                       Jenkins configuration); the report says they were not run
  --credential-report  as for audit

Exit 0 when the report was made, whatever it shows (audit and check are the gates); 1 when it could not be.`,
  'self-rotate': `Usage: key-rotator self-rotate <key> [--force] [--take-over] [--json]
       key-rotator self-rotate <key> --print-policy [--user-path PATH] [--account-id ID]

For a Jenkins that AWS cannot reach (behind NAT, no inbound): rotates managed key <key> (its name or IAM user;
the configuration says "rotatedBy": "self") from next to Jenkins, as a scheduled Jenkins job or from cron. It signs
in to AWS with the very key it rotates (the usual credential chain: the job binds the AWS credential into
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; cron uses a profile of the shared credentials file, which each new key is
written to before the old one is deactivated), and runs the four steps of the rotation hook: new key stored as
AWSPENDING, Jenkins updated over its REST API (the token from the variable the target's tokenEnv names), the new
key verified (STS, ECR, Jenkins, canary job), then, signing with the new key, AWSCURRENT moved and the old key
deactivated. A rotation an earlier run left is resumed; otherwise the key is rotated only when it is due.

Options:
  --force          rotate now, even if the key is not due
  --take-over      continue a rotation an earlier run left although its lease has not run out (that run is gone)
  --print-policy   print the IAM policy the key's user needs for this, and nothing more: its own access keys
                   (\${aws:username} on its path), its own secret, ecr:GetAuthorizationToken; attach it with
                   aws iam put-user-policy. Reads the account and the user's path from AWS when it can
  --user-path PATH, --account-id ID   with --print-policy: give them instead of asking AWS
  --json           the report as one JSON document

Exit 0 when the key was rotated, a rotation was completed, or nothing was due; 1 when it failed (the old key then
still works; the next run resumes).`,
  'validate-config': `Usage: key-rotator validate-config [FILE] [--stage NAME] [--param NAME=VALUE]… [--check-iam] [--json]

Checks a configuration file the way the Lambdas do at cold start: prints OK and a summary, or every issue with its
path (keys[0].jenkins[1].url: …; a JSON syntax error with its line and column). For CI. FILE defaults to
--config, the stage's configFile (with --stage), $KEY_ROTATOR_CONFIG, then ./rotator.config.json.

Warnings (not errors) name values left from config/example.json: its SNS topic and account ids, example.com
Jenkins URLs, and words such as TODO or <placeholder>.

With the deploy parameters, it also checks what the deployed roles would refuse (each an error, since each would
be an AccessDenied in production): every keys[].secretId under secretPrefix, every jenkins[].tokenSecretId under
tokenSecretPrefix, secret ARNs in the stack's region (with --region), and the SNS topic and Slack webhook secret the
stack grants (notifyTopicArn, slackWebhookSecretId) against those the configuration names.

Options:
  --stage NAME          the parameters of stage NAME in ./serverless.yml (params.default, then params.NAME), as
                        serverless deploy --stage NAME resolves them; values that are serverless variables are not
                        checked unless given with --param
  --param NAME=VALUE    a deploy parameter, over the stage's (as serverless deploy --param); repeatable
  --check-iam           read each managed user with iam:GetUser (read-only; users in other accounts through their
                        assumeRoleArn) and compare its path with userPath. Calls AWS (usual credentials,
                        --endpoint, --sandbox). A user IAM does not show (no permission) is reported as not checked
  --json                { "valid", "file", "issues": [{ "path", "message", "line"?, "column"? }], "warnings": […],
                          "stack": { "stage", "params", "unresolved" } | null,
                          "iam": [{ "key", "iamUser", "accountId", "status", "path", "detail" }] | null, "keys": […] }

Exit 1 when the file is missing or invalid, does not fit the parameters, or a user could not be checked.`,
};

export function mainHelp(version: string): string {
  return `key-rotator ${version}: rotate and audit the AWS access keys Jenkins uses

Usage: key-rotator [global options] <command> [options]

Commands:
  audit                   every IAM user's keys: age, status, last use, managed or not, next rotation due
  check                   the security checklist: least privilege, console access, CloudTrail, keys outside the
                          credentials store, Configuration-as-Code (read-only; --fail-on for CI)
  doctor                  can each Jenkins target be reached from here (DNS, TCP, TLS, token, permissions)?
  keyless plan|apply|rollback <key>
                          retire the long-lived key: Jenkins ID tokens to STS, proven before the key goes
  plan                    what the next scheduled run would do (read-only), with a check of each Jenkins credential
  report --html FILE      the key report as one HTML page: ages against the rotation line, history, findings
  rotate <user>           rotate a managed key now; --resume or --abandon a stuck rotation; --emergency for a
                          leaked key
  self-rotate <key>       rotate a key from next to Jenkins, signed in as itself (Jenkins AWS cannot reach)
  validate-config [FILE]  check a configuration file, and that it fits a stage's parameters (for CI)

${GLOBAL}`;
}

/** Each command's examples, for its help: every command has some (the help test goes through COMMANDS). */
const EXAMPLES: Record<CommandName, string[]> = {
  audit: [
    'key-rotator audit                              # the table, problems first',
    'key-rotator audit --fail-on-stale              # CI gate: exit 1 when a managed key is past its max age',
    'key-rotator audit --fail-on-stale --include-unmanaged --format csv > keys.csv',
    "key-rotator audit --json | jq '.users[].keys[] | select(.stale)'",
  ],
  check: [
    'key-rotator check                              # every finding, grouped by severity, with its fix',
    'key-rotator check --fail-on high               # CI gate: exit 1 on a high finding',
    'key-rotator check --key prod-ecr-push --emit-policy policies',
  ],
  doctor: ['key-rotator doctor', 'key-rotator doctor --key prod-ecr-push --json'],
  keyless: [
    'key-rotator keyless plan prod-ecr-push --out keyless/',
    'key-rotator keyless apply prod-ecr-push --canary ecr-canary-prod-ecr-push',
    'key-rotator keyless apply prod-ecr-push --retire-key',
    'key-rotator keyless rollback prod-ecr-push',
  ],
  plan: [
    'key-rotator plan',
    'key-rotator plan --json > plan.json',
    'key-rotator --sandbox /tmp/sandbox.json plan     # against SANDBOX_SEED=demo npm run sandbox',
  ],
  report: [
    'key-rotator report --html key-report.html',
    'key-rotator report --json > key-report.json',
    'key-rotator report --html key-report.html --no-checks',
  ],
  rotate: [
    'key-rotator rotate jenkins-prod',
    'key-rotator rotate jenkins-prod --resume       # a rotation left in flight',
    'key-rotator rotate AKIAIOSFODNN7EXAMPLE --emergency --reason "posted in a public gist"',
  ],
  'self-rotate': [
    'key-rotator self-rotate prod-ecr-push          # from a scheduled Jenkins job or cron',
    'key-rotator self-rotate prod-ecr-push --print-policy > self-rotate.policy.json',
  ],
  'validate-config': [
    'key-rotator validate-config rotator.config.json',
    'key-rotator validate-config rotator.config.json --stage prod --check-iam',
  ],
};

/** The pointer from a command's help to the options every command takes. */
export const GLOBAL_POINTER =
  'Global options (--config, --region, --endpoint, --sandbox, --verbose) and exit codes: key-rotator --help';

/** One command's help: its usage, what it does, its own options, examples, and a pointer to the global options. */
export function commandHelp(command: CommandName): string {
  const examples = EXAMPLES[command].map((e) => `  ${e}`).join('\n');
  return `${COMMAND_HELP[command]}\n\nExamples:\n${examples}\n\n${GLOBAL_POINTER}`;
}
