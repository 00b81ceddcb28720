import * as z from 'zod';

/** What a managed secret holds: one IAM user's access key. The JSON shape users create the secret with. */
export const keySecretSchema = z.object({
  userName: z.string().min(1),
  accessKeyId: z.string().regex(/^(AKIA|ASIA)[A-Z0-9]{12,124}$/, 'not an access key id'),
  secretAccessKey: z.string().min(16),
  createdAt: z.string().optional(),
});
export type KeySecret = z.infer<typeof keySecretSchema>;

export interface AccessKeyMeta {
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  createDate: Date;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const DAY_MS = 86_400_000;

export function ageInDays(createDate: Date, now: Date): number {
  return Math.floor((now.getTime() - createDate.getTime()) / DAY_MS);
}

/** Parses a stored secret value, naming what is wrong without echoing it. */
export function parseKeySecret(raw: string | undefined, where: string): KeySecret {
  if (raw === undefined) throw new Error(`${where} has no SecretString`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`${where} is not JSON; expected {"userName","accessKeyId","secretAccessKey"}`);
  }
  const r = keySecretSchema.safeParse(json);
  if (!r.success)
    throw new Error(
      `${where} is not a key secret: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

export const toCredentials = (k: KeySecret): Credentials => ({
  accessKeyId: k.accessKeyId,
  secretAccessKey: k.secretAccessKey,
});
