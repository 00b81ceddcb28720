/** The smallest valid managed key of the rotator's configuration (raw, before parseConfig), for unit tests. */
export const rawKey = (overrides: Record<string, unknown> = {}) => ({
  name: 'prod',
  iamUser: 'jenkins-prod',
  secretId: 'jenkins/prod/aws-key',
  jenkins: [
    {
      url: 'https://jenkins.example.com',
      user: 'key-rotator',
      tokenSecretId: 'jenkins/api-token',
      store: 'system',
      credentialId: 'aws-prod',
    },
  ],
  verify: { ecr: { region: 'us-east-1' } },
  ...overrides,
});

/** Another managed key like {@link rawKey}, for user `jenkins-<name>`, with its own secret and credential. */
export const rawKeyNamed = (name: string, overrides: Record<string, unknown> = {}) =>
  rawKey({
    name,
    iamUser: `jenkins-${name}`,
    secretId: `jenkins/${name}/aws-key`,
    jenkins: [{ ...rawKey().jenkins[0], credentialId: `aws-${name}` }],
    ...overrides,
  });
