/**
 * What one rotation costs in outside calls, counted by the emulators: every AWS API call and registry request in
 * the local cloud's call log, every Jenkins request in the Jenkins emulator's, per call point. A change that adds
 * a call to a rotation fails here, naming the point; one that removes calls updates the table.
 */
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { seedScenario } from '../../localcloud/scenario';
import { countByPoint, oneRotationKey } from '../support/one-rotation';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../support/rotator';

const SECRET = 'jenkins/calls/aws-key';
const CANARY = 'ecr-canary-calls';
const SYSTEM_CRED = '/credentials/store/system/domain/_/credential/aws-calls/config.xml';
const FOLDER_CRED =
  '/job/team/job/deploy/credentials/store/folder/domain/_/credential/aws-calls-up/config.xml';
const QUEUE_POLL = 'jenkins:GET /queue/item/*/api/json';
const BUILD_POLL = `jenkins:GET /job/${CANARY}/*/api/json`;

let cloud: LocalCloud;
let sm: SecretsManagerClient;

beforeAll(async () => {
  cloud = await startLocalCloud();
  const { config } = await seedScenario(cloud, [oneRotationKey('calls')]);
  // The shipped policy: no consecutiveSuccesses set, so the default (3) applies.
  wireRotator(cloud, config, { silent: true });
  sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
});

afterAll(async () => {
  sm.destroy();
  await cloud.close();
});

describe('calls per rotation', () => {
  it('one scheduled rotation (2 Jenkins targets, ECR + /v2/, canary job) at propagation delay 0', async () => {
    cloud.aws.state.propagationDelayMs = 0;
    const since = cloud.aws.state.calls.lastSeq;
    await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATE_LAMBDA_ARN }));
    await waitForRotations(cloud.aws.state, 60_000);
    expect(cloud.aws.state.rotations.at(-1)?.status).toBe('succeeded');

    const calls = cloud.aws.state.calls.since(since);
    const rotator = calls.filter((c) => c.origin === 'client');
    const { [QUEUE_POLL]: queuePolls = 0, [BUILD_POLL]: buildPolls = 0, ...fixed } = countByPoint(rotator);
    expect(fixed).toEqual({
      // RotateSecret is this test's; Secrets Manager then invokes the hook once per step.
      'secretsmanager:RotateSecret': 1,
      'secretsmanager:DescribeSecret': 6,
      'secretsmanager:GetSecretValue': 10,
      'secretsmanager:PutSecretValue': 1,
      'secretsmanager:UpdateSecretVersionStage': 2,
      'iam:ListAccessKeys': 5,
      'iam:ListUserTags': 2,
      'iam:TagUser': 2,
      'iam:UntagUser': 1,
      'iam:CreateAccessKey': 1,
      'iam:UpdateAccessKey': 1,
      // 3 consecutive successes in setSecret (the key works at once), 1 in testSecret.
      'sts:GetCallerIdentity': 4,
      'ecr:GetAuthorizationToken': 1,
      'ecr-registry:GET /v2/': 1,
      // Each target: read (before and after the update decision), write, read back in testSecret.
      [`jenkins:GET ${SYSTEM_CRED}`]: 3,
      [`jenkins:POST ${SYSTEM_CRED}`]: 1,
      [`jenkins:GET ${FOLDER_CRED}`]: 3,
      [`jenkins:POST ${FOLDER_CRED}`]: 1,
      [`jenkins:POST /job/${CANARY}/buildWithParameters`]: 1,
    });
    const aws = rotator.filter((c) => c.emulator === 'aws').length;
    const jenkins = rotator.filter((c) => c.emulator === 'jenkins').length;
    expect({ aws, jenkins: jenkins - queuePolls - buildPolls }).toEqual({ aws: 38, jenkins: 9 });

    // The canary's polls depend on how long its build takes, so they are checked against the build itself: at
    // least one of each, and none after the one that saw what it waited for (the item leaving the queue, the build
    // ending). With no quiet period and a build of a few ms, that is one of each.
    expect(queuePolls).toBeGreaterThanOrEqual(1);
    expect(buildPolls).toBeGreaterThanOrEqual(1);
    const build = cloud.jenkins.state.job(CANARY)?.builds.at(-1);
    const item = [...cloud.jenkins.state.queue.values()].find((q) => q.build === build);
    expect(build?.finishedAt).toBeDefined();
    expect(item?.leftAt).toBeDefined();
    const at = (point: string) => rotator.filter((c) => c.point === point).map((c) => c.at);
    expect(
      at(QUEUE_POLL)
        .slice(0, -1)
        .every((t) => t < item!.leftAt!),
    ).toBe(true);
    expect(
      at(BUILD_POLL)
        .slice(0, -1)
        .every((t) => t < build!.finishedAt!),
    ).toBe(true);
    // The trigger turned Jenkins' quiet period (5 s by default) off: the item was buildable when queued.
    expect(item!.buildableAt).toBe(item!.inQueueSince);
  });
});
