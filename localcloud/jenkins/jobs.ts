import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { checkSignal, clientConfig, ecrLogin, markBuildOrigin } from './canary-aws';
import { awsKeyPair, credentialId, secretsOf, type Credential } from './credentials';
import { bean, type Bean, type Exported } from './export';
import { runWebIdentityCheck } from './web-identity';
import {
  QUEUE_LEFT_ITEM_TTL_MS,
  fullName,
  itemUrl,
  parametersOf,
  type Build,
  type BuildResult,
  type Folder,
  type Item,
  type JenkinsState,
  type Job,
  type QueueItem,
} from './state';

const DEFAULT_QUIET_PERIOD_MS = 50;

const timers = new WeakMap<JenkinsState, Set<NodeJS.Timeout>>();

/** A timer that dies with the emulator. */
function later(state: JenkinsState, ms: number, fn: () => void): void {
  if (state.lifetime.signal.aborted) return;
  let set = timers.get(state);
  if (!set) timers.set(state, (set = new Set()));
  const owned = set;
  const t = setTimeout(() => {
    owned.delete(t);
    if (!state.lifetime.signal.aborted) fn();
  }, ms);
  t.unref();
  owned.add(t);
}

const sleep = (state: JenkinsState, ms: number): Promise<void> =>
  new Promise((resolve) => {
    later(state, ms, resolve);
    state.lifetime.signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Cancels every pending queue and build timer (emulator shutdown). */
export function stopJobs(state: JenkinsState): void {
  state.lifetime.abort();
  for (const t of timers.get(state) ?? []) clearTimeout(t);
  timers.delete(state);
}

/** Queue item lookup; left items are forgotten 5 minutes after leaving (Queue.leftItems). */
export function queueItem(state: JenkinsState, id: number): QueueItem | undefined {
  const now = Date.now();
  for (const q of state.queue.values())
    if (q.leftAt !== undefined && now - q.leftAt > QUEUE_LEFT_ITEM_TTL_MS) state.queue.delete(q.id);
  return state.queue.get(id);
}

/**
 * Queue.schedule: an identical waiting item (same job, same parameters) is reused (→ 303), otherwise a new item
 * waits out the quiet period and then starts a build.
 */
export function scheduleBuild(
  state: JenkinsState,
  job: Job,
  parameters: [string, string][],
  triggeredBy: string,
  quietPeriodMs = job.spec.quietPeriodMs ?? DEFAULT_QUIET_PERIOD_MS,
): { item: QueueItem; duplicate: boolean } {
  const same = [...state.queue.values()].find(
    (q) =>
      q.state === 'waiting' && q.job === job && JSON.stringify(q.parameters) === JSON.stringify(parameters),
  );
  if (same) return { item: same, duplicate: true };
  const now = Date.now();
  const item: QueueItem = {
    id: state.nextQueueId++,
    job,
    parameters,
    triggeredBy,
    inQueueSince: now,
    buildableAt: now + quietPeriodMs,
    state: 'waiting',
    cancelled: false,
  };
  state.queue.set(item.id, item);
  later(state, quietPeriodMs, () => startBuild(state, item));
  return { item, duplicate: false };
}

function startBuild(state: JenkinsState, item: QueueItem): void {
  const job = item.job;
  const build: Build = {
    job,
    number: job.nextBuildNumber++,
    queueId: item.id,
    parameters: item.parameters,
    triggeredBy: item.triggeredBy,
    startedAt: Date.now(),
    building: true,
    result: null,
    console: [],
  };
  job.builds.push(build);
  item.state = 'left';
  item.leftAt = Date.now();
  item.build = build;
  runBuild(state, build).catch(() => {
    build.result = 'FAILURE';
    build.finishedAt = Date.now();
    build.building = false;
  });
}

async function runBuild(state: JenkinsState, build: Build): Promise<void> {
  const masks: string[] = [];
  const log = (line: string) => {
    let masked = line;
    for (const m of masks) masked = masked.split(m).join('****');
    build.console.push(masked);
  };
  const name = fullName(build.job);
  log(
    build.triggeredBy === 'anonymous' ? 'Started by anonymous user' : `Started by user ${build.triggeredBy}`,
  );
  log('Running as SYSTEM');
  log(`Building in workspace /var/jenkins_home/workspace/${name}`);
  let result: BuildResult;
  try {
    result = await runCheck(state, build, log, masks);
  } catch (err) {
    log(`ERROR: ${describeError(err)}`);
    result = 'FAILURE';
  }
  const remaining = (build.job.spec.durationMs ?? 0) - (Date.now() - build.startedAt);
  if (remaining > 0) await sleep(state, remaining);
  if (state.lifetime.signal.aborted) result = 'ABORTED';
  log(`Finished: ${result}`);
  build.result = result;
  build.finishedAt = Date.now();
  build.building = false;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** CredentialsProvider.findCredentialById in an item context: the folders from the innermost out, then system. */
export function resolveJobCredential(
  state: JenkinsState,
  job: Job,
  id: string,
): { credential: Credential; store: string; folder: Folder } | undefined {
  for (let folder: Folder | undefined = job.parent; folder; folder = folder.parent)
    for (const domain of folder.store.domains.values())
      for (const c of domain.credentials)
        if (credentialId(c) === id && c.values['scope'] !== 'SYSTEM')
          return {
            credential: c,
            store: folder === state.root ? 'system' : `folder ${fullName(folder)}`,
            folder,
          };
  return undefined;
}

async function runCheck(
  state: JenkinsState,
  build: Build,
  log: (line: string) => void,
  masks: string[],
): Promise<BuildResult> {
  const spec = build.job.spec;
  const check = spec.check ?? 'noop';
  if (check === 'noop') {
    log('[localcloud] noop check');
    return 'SUCCESS';
  }
  if (!spec.credentialId) {
    log('ERROR: the job has no credentialId configured');
    return 'FAILURE';
  }
  const found = resolveJobCredential(state, build.job, spec.credentialId);
  if (!found) {
    log(`ERROR: Could not find credentials entry with ID '${spec.credentialId}'`);
    return 'FAILURE';
  }
  if (check === 'web-identity') return runWebIdentityCheck(state, build, found, log, masks);
  const pair = awsKeyPair(found.credential);
  if (!pair) {
    log(
      `ERROR: Credentials '${spec.credentialId}' is of type '${found.credential.cls.typeName}' where 'com.cloudbees.jenkins.plugins.awscredentials.AmazonWebServicesCredentials' was expected`,
    );
    return 'FAILURE';
  }
  masks.push(...secretsOf(found.credential));
  build.accessKeyId = pair.accessKeyId;
  log(
    `[localcloud] ${check}: credential '${spec.credentialId}' (${found.credential.cls.typeName}) from the ${found.store} store, access key ${pair.accessKeyId}`,
  );
  const endpoint = state.awsEndpoint;
  if (!endpoint) {
    log('ERROR: no AWS endpoint is configured for this emulator (awsEndpoint)');
    return 'FAILURE';
  }
  const target = {
    region: spec.region ?? 'us-east-1',
    endpoint,
    credentials: { accessKeyId: pair.accessKeyId, secretAccessKey: pair.secretAccessKey },
  };
  const abortSignal = checkSignal(state);
  if (check === 'sts-identity') {
    const sts = new STSClient(clientConfig(target));
    markBuildOrigin(sts);
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal });
      log(`[localcloud] sts:GetCallerIdentity → ${out.Arn ?? '(no ARN)'} (account ${out.Account ?? '?'})`);
      if (spec.expectedArn && out.Arn !== spec.expectedArn) {
        log(`ERROR: expected to authenticate as ${spec.expectedArn}`);
        return 'FAILURE';
      }
      return 'SUCCESS';
    } finally {
      sts.destroy();
    }
  }
  return ecrLogin(target, log, masks, abortSignal);
}

// --- JSON API beans ---------------------------------------------------------------------------------------------

const JOB_CLASSES = {
  freestyle: { job: 'hudson.model.FreeStyleProject', build: 'hudson.model.FreeStyleBuild' },
  pipeline: {
    job: 'org.jenkinsci.plugins.workflow.job.WorkflowJob',
    build: 'org.jenkinsci.plugins.workflow.job.WorkflowRun',
  },
} as const;
const FOLDER = 'com.cloudbees.hudson.plugins.folder.Folder';

const classesOf = (job: Job) => JOB_CLASSES[job.spec.type ?? 'freestyle'];

export function jobColor(job: Job): string {
  if (job.spec.disabled) return 'disabled';
  const building = job.builds.some((b) => b.building);
  const last = [...job.builds].reverse().find((b) => !b.building);
  const base =
    last === undefined
      ? 'notbuilt'
      : last.result === 'SUCCESS'
        ? 'blue'
        : last.result === 'ABORTED'
          ? 'aborted'
          : 'red';
  return building ? `${base}_anime` : base;
}

function buildRef(state: JenkinsState, b: Build | undefined): Exported {
  if (!b) return null;
  return bean(classesOf(b.job).build, {
    number: { v: b.number, vis: 2 },
    url: { v: state.absoluteUrl(`${itemUrl(b.job)}${b.number}/`), vis: 2 },
  });
}

/** Names of the job's password parameters: their values are Secrets, never exported nor shown. */
const passwordParameters = (job: Job): Set<string> =>
  new Set(
    parametersOf(job.spec)
      .filter((p) => p.password)
      .map((p) => p.name),
  );

function parameterActions(job: Job, parameters: [string, string][], triggeredBy: string): Exported[] {
  const actions: Exported[] = [];
  const secret = passwordParameters(job);
  if (parameters.length)
    actions.push(
      bean('hudson.model.ParametersAction', {
        parameters: {
          v: parameters.map(([name, value]) =>
            secret.has(name)
              ? bean('hudson.model.PasswordParameterValue', { name: { v: name, vis: 3 } })
              : bean('hudson.model.StringParameterValue', {
                  name: { v: name, vis: 3 },
                  value: { v: value, vis: 3 },
                }),
          ),
          vis: 2,
        },
      }),
    );
  actions.push(
    bean('hudson.model.CauseAction', {
      causes: {
        v: [
          triggeredBy === 'anonymous'
            ? bean('hudson.model.Cause$UserIdCause', {
                shortDescription: { v: 'Started by anonymous user', vis: 3 },
                userId: { v: null, vis: 3 },
                userName: { v: 'anonymous', vis: 3 },
              })
            : bean('hudson.model.Cause$UserIdCause', {
                shortDescription: { v: `Started by user ${triggeredBy}`, vis: 3 },
                userId: { v: triggeredBy, vis: 3 },
                userName: { v: triggeredBy, vis: 3 },
              }),
        ],
        vis: 2,
      },
    }),
  );
  return actions;
}

export function buildBean(state: JenkinsState, b: Build): Bean {
  const name = fullName(b.job);
  return bean(classesOf(b.job).build, {
    actions: parameterActions(b.job, b.parameters, b.triggeredBy),
    artifacts: [],
    building: b.building,
    description: null,
    displayName: `#${b.number}`,
    duration: b.finishedAt === undefined ? 0 : b.finishedAt - b.startedAt,
    estimatedDuration: b.job.spec.durationMs ?? 100,
    executor: null,
    fullDisplayName: `${name.split('/').join(' » ')} #${b.number}`,
    id: String(b.number),
    keepLog: false,
    number: b.number,
    queueId: b.queueId,
    result: b.result,
    timestamp: b.startedAt,
    url: state.absoluteUrl(`${itemUrl(b.job)}${b.number}/`),
    builtOn: '',
    changeSet: bean('hudson.scm.EmptyChangeLogSet', { items: [], kind: null }),
    culprits: [],
  });
}

function taskBean(state: JenkinsState, job: Job): Bean {
  return bean(classesOf(job).job, {
    name: { v: job.name, vis: 2 },
    url: { v: state.absoluteUrl(itemUrl(job)), vis: 2 },
    color: { v: jobColor(job), vis: 2 },
  });
}

export function queueItemBean(state: JenkinsState, q: QueueItem): Bean {
  const waiting = q.state === 'waiting';
  const props: Record<string, Exported | { v: Exported; vis: number }> = {
    actions: parameterActions(q.job, q.parameters, q.triggeredBy),
    blocked: false,
    buildable: false,
    id: q.id,
    inQueueSince: q.inQueueSince,
    // PasswordParameterValue.getShortDescription: NAME=****
    params: q.parameters.map(([k, v]) => `\n${k}=${passwordParameters(q.job).has(k) ? '****' : v}`).join(''),
    stuck: false,
    task: taskBean(state, q.job),
    url: `queue/item/${q.id}/`,
    why: waiting ? `In the quiet period. Expires in ${Math.max(0, q.buildableAt - Date.now())} ms` : null,
  };
  if (waiting) return bean('hudson.model.Queue$WaitingItem', { ...props, timestamp: q.buildableAt });
  return bean('hudson.model.Queue$LeftItem', {
    ...props,
    cancelled: q.cancelled,
    executable: buildRef(state, q.build),
  });
}

export function jobBean(state: JenkinsState, job: Job): Bean {
  const builds = [...job.builds].reverse();
  const done = builds.filter((b) => !b.building);
  const params = parametersOf(job.spec);
  const name = fullName(job);
  const queued = [...state.queue.values()].find((q) => q.job === job && q.state === 'waiting');
  return bean(classesOf(job).job, {
    actions: [],
    description: job.spec.description ?? '',
    displayName: job.name,
    displayNameOrNull: null,
    fullDisplayName: name.split('/').join(' » '),
    fullName: name,
    name: job.name,
    url: state.absoluteUrl(itemUrl(job)),
    buildable: !job.spec.disabled,
    builds: builds.map((b) => buildRef(state, b)),
    color: jobColor(job),
    firstBuild: buildRef(state, job.builds[0]),
    healthReport: [],
    inQueue: queued !== undefined,
    keepDependencies: false,
    lastBuild: buildRef(state, builds[0]),
    lastCompletedBuild: buildRef(state, done[0]),
    lastFailedBuild: buildRef(
      state,
      done.find((b) => b.result === 'FAILURE'),
    ),
    lastStableBuild: buildRef(
      state,
      done.find((b) => b.result === 'SUCCESS'),
    ),
    lastSuccessfulBuild: buildRef(
      state,
      done.find((b) => b.result === 'SUCCESS'),
    ),
    lastUnstableBuild: null,
    lastUnsuccessfulBuild: buildRef(
      state,
      done.find((b) => b.result !== 'SUCCESS'),
    ),
    nextBuildNumber: job.nextBuildNumber,
    property: params.length
      ? [
          bean('hudson.model.ParametersDefinitionProperty', {
            parameterDefinitions: {
              v: params.map((p) => {
                const type = p.password ? 'PasswordParameterDefinition' : 'StringParameterDefinition';
                // PasswordParameterValue exports only its name: a Secret is never in the JSON API.
                const value = p.password
                  ? bean('hudson.model.PasswordParameterValue', { name: { v: p.name, vis: 3 } })
                  : bean('hudson.model.StringParameterValue', {
                      name: { v: p.name, vis: 3 },
                      value: { v: p.default, vis: 3 },
                    });
                return bean(`hudson.model.${type}`, {
                  defaultParameterValue: { v: value, vis: 3 },
                  description: { v: p.description, vis: 3 },
                  name: { v: p.name, vis: 3 },
                  type: { v: type, vis: 3 },
                });
              }),
              vis: 2,
            },
          }),
        ]
      : [],
    queueItem: queued ? queueItemBean(state, queued) : null,
    concurrentBuild: false,
    disabled: job.spec.disabled ?? false,
  });
}

function itemRef(state: JenkinsState, item: Item): Bean {
  return bean(item.kind === 'job' ? classesOf(item).job : FOLDER, {
    name: { v: item.name, vis: 2 },
    url: { v: state.absoluteUrl(itemUrl(item)), vis: 2 },
    ...(item.kind === 'job' ? { color: { v: jobColor(item), vis: 2 } } : {}),
  });
}

/** Root (`hudson.model.Hudson`) or folder bean; `visible` filters items (Job/Read on each). */
export function groupBean(state: JenkinsState, folder: Folder, visible: (item: Item) => boolean): Bean {
  const jobs = [...folder.items.values()].filter(visible).map((i) => itemRef(state, i));
  if (folder === state.root)
    return bean('hudson.model.Hudson', {
      assignedLabels: [bean(undefined, { name: 'built-in' })],
      mode: 'NORMAL',
      nodeDescription: "the Jenkins controller's built-in node",
      nodeName: '',
      numExecutors: 2,
      description: null,
      jobs,
      overallLoad: bean(undefined, {}),
      primaryView: bean('hudson.model.AllView', {
        name: { v: 'all', vis: 2 },
        url: { v: state.rootUrl, vis: 2 },
      }),
      quietDownReason: null,
      quietingDown: false,
      slaveAgentPort: -1,
      unlabeledLoad: bean('jenkins.model.UnlabeledLoadStatistics', {}),
      url: state.rootUrl,
      useCrumbs: state.csrfEnabled,
      useSecurity: true,
      views: [
        bean('hudson.model.AllView', { name: { v: 'all', vis: 2 }, url: { v: state.rootUrl, vis: 2 } }),
      ],
    });
  const name = fullName(folder);
  return bean(FOLDER, {
    actions: [],
    description: folder.spec.description ?? '',
    displayName: folder.name,
    displayNameOrNull: null,
    fullDisplayName: name.split('/').join(' » '),
    fullName: name,
    name: folder.name,
    url: state.absoluteUrl(itemUrl(folder)),
    healthReport: [],
    jobs,
  });
}
