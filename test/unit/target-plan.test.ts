import { describe, expect, it } from 'vitest';
import { readTargetPlan, TargetEnvError } from '../support/target';

/** The portable suite's environment: what runs where, and the errors that name the variable to fix. */

const JENKINS = {
  JKR_IT_JENKINS_URL: 'https://jenkins.example.com/',
  JKR_IT_JENKINS_USER: 'key-rotator-it',
  JKR_IT_JENKINS_TOKEN: '11aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
};

const fails = (env: NodeJS.ProcessEnv, message: RegExp) => {
  expect(() => readTargetPlan(env)).toThrow(TargetEnvError);
  expect(() => readTargetPlan(env)).toThrow(message);
};

describe('readTargetPlan', () => {
  it('runs everything on the local cloud when nothing is set, with every capability', () => {
    const plan = readTargetPlan({});
    expect(plan).toMatchObject({
      mode: 'local',
      region: 'us-east-1',
      awsEndpoint: undefined,
      jenkins: undefined,
      hasFolder: true,
      hasCanary: true,
      registryLogin: true,
      refusesInactiveKeys: true,
    });
  });

  it('takes an endpoint URL or "aws", a region, and an external Jenkins with a folder and a canary job', () => {
    const plan = readTargetPlan({
      JKR_IT_AWS_ENDPOINT: 'AWS',
      JKR_IT_AWS_REGION: 'eu-west-1',
      ...JENKINS,
      JKR_IT_JENKINS_FOLDER: '/team-a/sub/',
      JKR_IT_CANARY_JOB: 'team-a/ecr-canary',
    });
    expect(plan).toMatchObject({
      mode: 'external',
      awsEndpoint: 'aws',
      region: 'eu-west-1',
      jenkins: { url: 'https://jenkins.example.com', user: 'key-rotator-it' },
      jenkinsFolder: 'team-a/sub',
      canaryJob: 'team-a/ecr-canary',
      hasFolder: true,
      hasCanary: true,
    });
    expect(readTargetPlan({ JKR_IT_AWS_ENDPOINT: 'http://localhost:4566/' }).awsEndpoint).toBe(
      'http://localhost:4566',
    );
  });

  it('knows what a mixed or partial set-up lacks, and says why', () => {
    const noCanary = readTargetPlan({ JKR_IT_AWS_ENDPOINT: 'http://localhost:5000', ...JENKINS });
    expect(noCanary).toMatchObject({ hasFolder: false, hasCanary: false });
    expect(noCanary.why.noFolder).toContain('JKR_IT_JENKINS_FOLDER');
    expect(noCanary.why.noCanary).toContain('JKR_IT_CANARY_JOB');
    // The Jenkins emulator's canary can call an endpoint URL, not the real AWS endpoints.
    expect(readTargetPlan({ JKR_IT_AWS_ENDPOINT: 'http://localhost:5000' }).hasCanary).toBe(true);
    expect(readTargetPlan({ JKR_IT_AWS_ENDPOINT: 'aws' }).hasCanary).toBe(false);
    const moto = readTargetPlan({
      JKR_IT_AWS_ENDPOINT: 'http://localhost:5000',
      JKR_IT_ECR_REGISTRY_LOGIN: 'false',
      JKR_IT_AWS_REFUSES_INACTIVE_KEYS: 'false',
    });
    expect(moto).toMatchObject({ registryLogin: false, refusesInactiveKeys: false, hasCanary: false });
    // Jenkins external, AWS local: only the AWS emulator runs.
    expect(readTargetPlan(JENKINS)).toMatchObject({ mode: 'external', awsEndpoint: undefined });
  });

  it('names the variable that is malformed, never echoing the token', () => {
    fails({ JKR_IT_AWS_ENDPOINT: 'localhost:4566' }, /JKR_IT_AWS_ENDPOINT must be/);
    fails({ JKR_IT_AWS_ENDPOINT: 'http://user:pw@localhost:4566' }, /JKR_IT_AWS_ENDPOINT must not embed/);
    fails({ JKR_IT_AWS_REGION: 'mars' }, /JKR_IT_AWS_REGION must be an AWS region/);
    fails({ ...JENKINS, JKR_IT_JENKINS_URL: 'ftp://jenkins' }, /JKR_IT_JENKINS_URL must be/);
    fails({ ...JENKINS, JKR_IT_JENKINS_FOLDER: 'a;b' }, /JKR_IT_JENKINS_FOLDER must be a Jenkins item path/);
    fails(
      { JKR_IT_AWS_ENDPOINT: 'aws', JKR_IT_ECR_REGISTRY_LOGIN: 'no' },
      /JKR_IT_ECR_REGISTRY_LOGIN must be/,
    );
    const { JKR_IT_JENKINS_TOKEN: token, ...withoutToken } = JENKINS;
    fails(withoutToken, /missing: JKR_IT_JENKINS_TOKEN$/);
    expect(() => readTargetPlan({ ...JENKINS, JKR_IT_JENKINS_URL: 'nope' })).not.toThrow(token);
  });

  it('refuses settings that contradict the set-up', () => {
    fails({ JKR_IT_JENKINS_FOLDER: 'team-a' }, /JKR_IT_JENKINS_FOLDER .*set JKR_IT_JENKINS_URL/);
    fails({ JKR_IT_CANARY_JOB: 'canary' }, /JKR_IT_CANARY_JOB .*set JKR_IT_JENKINS_URL/);
    fails({ ...JENKINS, JKR_IT_CANARY_JOB: 'canary' }, /JKR_IT_CANARY_JOB needs JKR_IT_AWS_ENDPOINT/);
    fails({ JKR_IT_AWS_REFUSES_INACTIVE_KEYS: 'false' }, /set JKR_IT_AWS_ENDPOINT too/);
  });
});
