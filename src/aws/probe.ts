import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Credentials } from '../domain/keys';
import type { KeyProbe } from '../engine/ports';
import { clientsForKey, type AwsSetup } from './clients';

/** Calls made with the candidate key itself: STS proves it authenticates, ECR that it is authorized. */
export class AwsKeyProbe implements KeyProbe {
  constructor(
    private readonly setup: AwsSetup,
    private readonly stsRegion: string = setup.region,
  ) {}

  async whoAmI(creds: Credentials): Promise<string> {
    const { sts } = clientsForKey(this.setup, creds, this.stsRegion);
    try {
      const r = await sts.send(new GetCallerIdentityCommand({}));
      if (!r.Arn) throw new Error('GetCallerIdentity returned no ARN');
      return r.Arn;
    } finally {
      sts.destroy();
    }
  }

  async ecrLogin(creds: Credentials, opts: { region: string; registryId?: string; registryLogin: boolean }) {
    const { ecr } = clientsForKey(this.setup, creds, opts.region);
    try {
      const r = await ecr.send(
        new GetAuthorizationTokenCommand(opts.registryId ? { registryIds: [opts.registryId] } : {}),
      );
      const data = r.authorizationData?.[0];
      if (!data?.authorizationToken || !data.proxyEndpoint)
        throw new Error('GetAuthorizationToken returned no token');
      if (!opts.registryLogin) return;
      // What `docker login` does, without Docker: GET /v2/ with the token as Basic auth (aws-facts.md §4).
      const res = await fetch(new URL('/v2/', data.proxyEndpoint), {
        headers: { authorization: `Basic ${data.authorizationToken}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      if (res.status !== 200)
        throw new Error(`registry ${new URL(data.proxyEndpoint).host} answered ${res.status} to /v2/`);
    } finally {
      ecr.destroy();
    }
  }
}
