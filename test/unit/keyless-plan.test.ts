import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args';
import { roleForJob, subMatches } from '../../src/keyless/apply';
import { referencesCredential } from '../../src/keyless/discover';
import {
  checkIssuer,
  checkSubCondition,
  cloudFormationTemplate,
  issuerUrl,
  itemUrl,
  providerArn,
  providerId,
  roleNameFor,
  subCondition,
  trustPolicy,
  type KeylessPlan,
  type PlannedRole,
} from '../../src/keyless/plan';

const ROOT = 'https://jenkins.example.com/';

describe("issuers, item URLs and providers (the oidc-provider plugin's rules)", () => {
  it('the system store is the root issuer; a folder store its own, with /job/ between names', () => {
    expect(issuerUrl(ROOT, { kind: 'system' })).toBe('https://jenkins.example.com/oidc');
    expect(issuerUrl('https://ci.example.com/jenkins', { kind: 'folder', path: 'team a/sub' })).toBe(
      'https://ci.example.com/jenkins/oidc/job/team%20a/job/sub',
    );
    expect(itemUrl(ROOT, 'team-a/deploy')).toBe('https://jenkins.example.com/job/team-a/job/deploy/');
    expect(providerId('https://jenkins.example.com/oidc')).toBe('jenkins.example.com/oidc');
    expect(providerArn('111122223333', 'https://jenkins.example.com/oidc')).toBe(
      'arn:aws:iam::111122223333:oidc-provider/jenkins.example.com/oidc',
    );
  });

  it('an issuer must be https (http only on 127.0.0.1 and localhost), without query, fragment or trailing slash', () => {
    expect(() => checkIssuer('https://jenkins.example.com/oidc')).not.toThrow();
    expect(() => checkIssuer('http://127.0.0.1:8080/oidc')).not.toThrow();
    expect(() => checkIssuer('http://jenkins.example.com/oidc')).toThrow(/is not HTTPS/);
    expect(() => checkIssuer('https://jenkins.example.com/oidc?x=1')).toThrow(/no query or fragment/);
    expect(() => checkIssuer('https://jenkins.example.com/oidc/')).toThrow(/must not end with a slash/);
    expect(() => checkIssuer('jenkins')).toThrow(/is not a URL/);
  });
});

describe('the sub condition', () => {
  it('is the job URL exactly, or every job below a folder', () => {
    expect(subCondition(ROOT, { kind: 'job', path: 'deploy' })).toEqual({
      operator: 'StringEquals',
      value: 'https://jenkins.example.com/job/deploy/',
    });
    expect(subCondition(ROOT, { kind: 'folder', path: 'team-a' })).toEqual({
      operator: 'StringLike',
      value: 'https://jenkins.example.com/job/team-a/job/*',
    });
  });

  it('refuses one that would admit every job, or jobs of another Jenkins', () => {
    for (const value of [
      '*',
      'https://jenkins.example.com/*',
      'https://jenkins.example.com/job/*',
      'https://jenkins.example.com/jo?/x/',
    ])
      expect(() => checkSubCondition(ROOT, { operator: 'StringLike', value }), value).toThrow(
        /would admit every job/,
      );
    expect(() =>
      checkSubCondition(ROOT, { operator: 'StringLike', value: 'https://other.example.com/job/a/*' }),
    ).toThrow(/outside this Jenkins/);
    expect(() =>
      checkSubCondition(ROOT, subCondition(ROOT, { kind: 'folder', path: 'team-a' })),
    ).not.toThrow();
    expect(() => checkSubCondition(ROOT, subCondition(ROOT, { kind: 'job', path: 'deploy' }))).not.toThrow();
  });

  it('matches as IAM does: StringEquals exactly; StringLike with * across slashes', () => {
    const job = { sub: subCondition(ROOT, { kind: 'job', path: 'deploy' }) };
    expect(subMatches(job, 'https://jenkins.example.com/job/deploy/')).toBe(true);
    expect(subMatches(job, 'https://jenkins.example.com/job/deploy-2/')).toBe(false);
    const folder = { sub: subCondition(ROOT, { kind: 'folder', path: 'team-a' }) };
    expect(subMatches(folder, 'https://jenkins.example.com/job/team-a/job/x/job/y/')).toBe(true);
    expect(subMatches(folder, 'https://jenkins.example.com/job/team-ab/job/x/')).toBe(false);
  });
});

describe('roles', () => {
  it('names each scope a role of at most 64 characters, distinct even when cut', () => {
    expect(roleNameFor('prod', { kind: 'job', path: 'team-a/deploy' })).toBe('jenkins-prod-team-a.deploy');
    const long = (p: string) =>
      roleNameFor('prod-ecr-push', { kind: 'folder', path: `${'very-long-folder-name/'.repeat(4)}${p}` });
    expect(long('a').length).toBeLessThanOrEqual(64);
    expect(long('a')).not.toBe(long('b'));
    expect(long('a')).toMatch(/^[\w+=,.@-]+$/);
  });

  it('trusts the provider for the audience and the sub, in one StringEquals for a job', () => {
    const p = trustPolicy({
      providerArn: 'arn:aws:iam::1:oidc-provider/jenkins.example.com/oidc',
      issuer: 'https://jenkins.example.com/oidc',
      audience: 'sts.amazonaws.com',
      sub: subCondition(ROOT, { kind: 'folder', path: 'team-a' }),
    });
    expect(p.Statement[0]).toMatchObject({
      Principal: { Federated: 'arn:aws:iam::1:oidc-provider/jenkins.example.com/oidc' },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { 'jenkins.example.com/oidc:aud': 'sts.amazonaws.com' },
        StringLike: { 'jenkins.example.com/oidc:sub': 'https://jenkins.example.com/job/team-a/job/*' },
      },
    });
  });

  it("finds the role of a canary job: its own, else its folder's", () => {
    const roles = [
      { name: 'a', scope: { kind: 'job', path: 'canary' } },
      { name: 'b', scope: { kind: 'folder', path: 'team-a/deploy' } },
    ] as PlannedRole[];
    expect(roleForJob(roles, 'canary')?.name).toBe('a');
    expect(roleForJob(roles, 'team-a/deploy/x/y')?.name).toBe('b');
    expect(roleForJob(roles, 'team-a/deployer')).toBeUndefined();
  });
});

describe('what uses a credential', () => {
  it('finds the id in XML elements and in pipeline scripts, escaped or not, and nothing else', () => {
    expect(referencesCredential('<credentialsId>aws-prod</credentialsId>', 'aws-prod')).toBe(true);
    expect(referencesCredential("withCredentials([aws(credentialsId: 'aws-prod')])", 'aws-prod')).toBe(true);
    expect(referencesCredential('credentialsId: &apos;aws-prod&apos;', 'aws-prod')).toBe(true);
    expect(referencesCredential('credentialsId(&quot;aws-prod&quot;)', 'aws-prod')).toBe(true);
    expect(referencesCredential('<credentialsId>aws-prod-2</credentialsId>', 'aws-prod')).toBe(false);
    expect(referencesCredential('aws-prod in a description', 'aws-prod')).toBe(false);
  });
});

describe('the CloudFormation template', () => {
  it('references a provider it creates, and names an existing one by its ARN', () => {
    const role = (providerArnV: string) =>
      ({
        name: 'r',
        path: '/jenkins-key-rotator/',
        scope: { kind: 'job', path: 'j' },
        providerArn: providerArnV,
        trustPolicy: { Version: '2012-10-17', Statement: [{ Principal: { Federated: providerArnV } }] },
        pushPolicy: {},
      }) as unknown as PlannedRole;
    const plan = {
      key: 'k',
      user: 'u',
      providers: [
        {
          issuer: 'https://a/oidc',
          arn: 'arn:a',
          audience: 'sts.amazonaws.com',
          exists: false,
          addAudience: false,
        },
        {
          issuer: 'https://b/oidc',
          arn: 'arn:b',
          audience: 'sts.amazonaws.com',
          exists: true,
          addAudience: false,
        },
      ],
      roles: [role('arn:a'), role('arn:b')],
    } as unknown as KeylessPlan;
    const t = cloudFormationTemplate(plan) as unknown as {
      Resources: Record<
        string,
        {
          Type: string;
          Properties: { AssumeRolePolicyDocument?: { Statement: { Principal: { Federated: unknown } }[] } };
        }
      >;
    };
    expect(t.Resources['JenkinsIssuer1']?.Type).toBe('AWS::IAM::OIDCProvider');
    expect(t.Resources['JenkinsIssuer2']).toBeUndefined();
    expect(
      t.Resources['KeylessRole1']?.Properties.AssumeRolePolicyDocument?.Statement[0]?.Principal.Federated,
    ).toEqual({ Ref: 'JenkinsIssuer1' });
    expect(
      t.Resources['KeylessRole2']?.Properties.AssumeRolePolicyDocument?.Statement[0]?.Principal.Federated,
    ).toBe('arn:b');
  });
});

describe('key-rotator keyless arguments', () => {
  const run = (...a: string[]) => parseCommandLine(a);
  it('parses each action with its options', () => {
    expect(run('keyless', 'plan', 'prod', '--out', 'dir', '--job', 'a/b', '--folder', 'c/')).toMatchObject({
      args: { command: 'keyless', action: 'plan', target: 'prod', out: 'dir', jobs: ['a/b'], folders: ['c'] },
    });
    expect(
      run(
        'keyless',
        'apply',
        'prod',
        '--canary',
        'x',
        '--canary',
        'y/z',
        '--retire-key',
        '--credential',
        'delete',
        '--proof-timeout',
        '60',
      ),
    ).toMatchObject({
      args: {
        action: 'apply',
        canaries: ['x', 'y/z'],
        retireKey: true,
        credential: 'delete',
        proofTimeoutSeconds: 60,
      },
    });
    expect(run('keyless', 'rollback', 'prod')).toMatchObject({
      args: { action: 'rollback', target: 'prod' },
    });
  });
  it('refuses what does not fit, naming it', () => {
    expect(() => run('keyless', 'prod')).toThrow(
      /keyless needs an action, plan, apply or rollback \(got "prod"\)/,
    );
    expect(() => run('keyless', 'plan')).toThrow(/needs the managed key/);
    expect(() => run('keyless', 'plan', 'prod', '--retire-key')).toThrow(
      /--retire-key goes with keyless apply/,
    );
    expect(() => run('keyless', 'apply', 'prod', '--out', 'x')).toThrow(/--out goes with keyless plan/);
    expect(() => run('keyless', 'apply', 'prod', '--credential', 'delete')).toThrow(
      /--credential goes with --retire-key/,
    );
    expect(() => run('keyless', 'apply', 'prod', '--retire-key', '--credential', 'wipe')).toThrow(
      /keep or delete/,
    );
    expect(() => run('keyless', 'plan', 'prod', '--folder', '*')).toThrow(/full name/);
    expect(() => run('keyless', 'plan', 'prod', '--job', 'a/../b')).toThrow(/full name/);
    expect(() => run('keyless', 'apply', 'prod', '--proof-timeout', 'soon')).toThrow(/number of seconds/);
  });
});
