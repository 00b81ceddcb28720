import {
  CredentialReportExpiredException,
  CredentialReportNotPresentException,
  CredentialReportNotReadyException,
  GenerateCredentialReportCommand,
  GetAccessKeyLastUsedCommand,
  GetCredentialReportCommand,
  GetUserCommand,
  type IAMClient,
  NoSuchEntityException,
  paginateListUsers,
  paginateListUserTags,
} from '@aws-sdk/client-iam';
import { listAccessKeys } from '../aws/key-store';
import type { AccessKeyMeta } from '../domain/keys';

export interface IamUserRef {
  userName: string;
  path: string;
  arn: string;
}

export type CredentialReportResult =
  { generatedAt: Date; csv: string } | { missing: 'not-present' | 'expired' | 'in-progress' };

/** The read-only IAM calls the inventory makes, in one account. Every list is read to its end. */
export interface IamReader {
  generateCredentialReport(): Promise<string>;
  getCredentialReport(): Promise<CredentialReportResult>;
  listUsers(pathPrefix: string): Promise<IamUserRef[]>;
  /** Undefined when the user does not exist. */
  getUser(userName: string): Promise<IamUserRef | undefined>;
  listAccessKeys(userName: string): Promise<AccessKeyMeta[]>;
  lastUsed(accessKeyId: string): Promise<{ date?: Date; service?: string }>;
  userTags(userName: string): Promise<Record<string, string>>;
}

/**
 * IamReader over an IAMClient. Paging is the SDK's own paginators (which follow `IsTruncated`/`Marker`: IAM may
 * return fewer items than asked even when more follow), and throttling is the client's own retry strategy (the
 * scan's client uses the SDK's adaptive mode: see src/scan/rate.ts), not a loop stacked on top of it.
 */
export function sdkIamReader(iam: IAMClient): IamReader {
  const page = { client: iam, pageSize: 1000 };
  return {
    async generateCredentialReport() {
      const r = await iam.send(new GenerateCredentialReportCommand({}));
      return r.State ?? 'STARTED';
    },
    async getCredentialReport() {
      try {
        const r = await iam.send(new GetCredentialReportCommand({}));
        if (!r.Content || !r.GeneratedTime) return { missing: 'not-present' };
        return { generatedAt: r.GeneratedTime, csv: Buffer.from(r.Content).toString('utf8') };
      } catch (err) {
        if (err instanceof CredentialReportNotReadyException) return { missing: 'in-progress' };
        if (err instanceof CredentialReportExpiredException) return { missing: 'expired' };
        if (err instanceof CredentialReportNotPresentException) return { missing: 'not-present' };
        throw err;
      }
    },
    async listUsers(pathPrefix) {
      const out: IamUserRef[] = [];
      for await (const r of paginateListUsers(page, { PathPrefix: pathPrefix }))
        for (const u of r.Users ?? [])
          if (u.UserName && u.Arn) out.push({ userName: u.UserName, path: u.Path ?? '/', arn: u.Arn });
      return out;
    },
    async getUser(userName) {
      try {
        const r = await iam.send(new GetUserCommand({ UserName: userName }));
        const u = r.User;
        return u?.UserName && u.Arn ? { userName: u.UserName, path: u.Path ?? '/', arn: u.Arn } : undefined;
      } catch (err) {
        if (err instanceof NoSuchEntityException) return undefined;
        throw err;
      }
    },
    listAccessKeys: (userName) => listAccessKeys(iam, userName),
    async lastUsed(accessKeyId) {
      const r = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }));
      const u = r.AccessKeyLastUsed;
      return {
        ...(u?.LastUsedDate ? { date: u.LastUsedDate } : {}),
        ...(u?.ServiceName && u.ServiceName !== 'N/A' ? { service: u.ServiceName } : {}),
      };
    },
    async userTags(userName) {
      const out: Record<string, string> = {};
      for await (const r of paginateListUserTags({ client: iam }, { UserName: userName }))
        for (const t of r.Tags ?? []) if (t.Key) out[t.Key] = t.Value ?? '';
      return out;
    },
  };
}
