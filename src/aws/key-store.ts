import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  type IAMClient,
  ListUserTagsCommand,
  NoSuchEntityException,
  paginateListAccessKeys,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import type { AccessKeyMeta } from '../domain/keys';
import type { KeyStore } from '../engine/ports';

/** Every access key of a user, all pages, through the SDK's own paginator. */
export async function listAccessKeys(iam: IAMClient, userName: string): Promise<AccessKeyMeta[]> {
  const out: AccessKeyMeta[] = [];
  for await (const r of paginateListAccessKeys({ client: iam }, { UserName: userName }))
    for (const k of r.AccessKeyMetadata ?? [])
      if (k.AccessKeyId && k.CreateDate)
        out.push({
          accessKeyId: k.AccessKeyId,
          status: k.Status === 'Active' ? 'Active' : 'Inactive',
          createDate: k.CreateDate,
        });
  return out;
}

export class IamKeyStore implements KeyStore {
  /** `iamOnce`: the same IAM without SDK retries, for CreateAccessKey (see AwsClients.iamOnce). */
  constructor(
    private readonly iam: IAMClient,
    private readonly iamOnce: IAMClient = iam,
  ) {}

  list(userName: string): Promise<AccessKeyMeta[]> {
    return listAccessKeys(this.iam, userName);
  }

  async create(userName: string) {
    const r = await this.iamOnce.send(new CreateAccessKeyCommand({ UserName: userName }));
    const k = r.AccessKey;
    if (!k?.AccessKeyId || !k.SecretAccessKey) throw new Error('CreateAccessKey returned no key');
    return {
      userName,
      accessKeyId: k.AccessKeyId,
      secretAccessKey: k.SecretAccessKey,
      createDate: k.CreateDate ?? new Date(),
    };
  }

  async setStatus(userName: string, accessKeyId: string, status: 'Active' | 'Inactive') {
    await this.iam.send(
      new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status: status }),
    );
  }

  async delete(userName: string, accessKeyId: string) {
    try {
      await this.iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId }));
    } catch (err) {
      if (!(err instanceof NoSuchEntityException)) throw err; // already gone: the goal is reached
    }
  }

  async tags(userName: string) {
    const out: Record<string, string> = {};
    let marker: string | undefined;
    do {
      const r = await this.iam.send(
        new ListUserTagsCommand({ UserName: userName, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const t of r.Tags ?? []) if (t.Key) out[t.Key] = t.Value ?? '';
      marker = r.IsTruncated ? r.Marker : undefined;
    } while (marker);
    return out;
  }

  async tag(userName: string, key: string, value: string) {
    await this.iam.send(new TagUserCommand({ UserName: userName, Tags: [{ Key: key, Value: value }] }));
  }

  async untag(userName: string, key: string) {
    await this.iam.send(new UntagUserCommand({ UserName: userName, TagKeys: [key] }));
  }
}
