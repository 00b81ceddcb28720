import type { RequestContext, ServiceModule } from './context';
import { AwsError } from './errors';

/**
 * SSM Parameter Store, JSON 1.1 (`AmazonSSM.*`), as much as the scan's small state needs: String parameters,
 * GetParameter, PutParameter (with Overwrite), DeleteParameter. Standard tier: values up to 4 KB.
 */
export interface ParameterRecord {
  name: string;
  value: string;
  type: 'String' | 'StringList' | 'SecureString';
  version: number;
  lastModified: number;
  description?: string;
}

const MAX_VALUE = 4096;
const NAME_RE = /^(\/[\w.-]+)+$|^[\w.-]+$/;

/** Parameters live per account and region; kept beside the emulator's state without widening its types. */
const stores = new WeakMap<object, Map<string, ParameterRecord>>();
function store(ctx: RequestContext): Map<string, ParameterRecord> {
  let byKey = stores.get(ctx.account);
  if (!byKey) stores.set(ctx.account, (byKey = new Map<string, ParameterRecord>()));
  return byKey;
}

const keyOf = (ctx: RequestContext, name: string) => `${ctx.region}\u0000${name}`;
const arnOf = (ctx: RequestContext, name: string) =>
  `arn:aws:ssm:${ctx.region}:${ctx.account.accountId}:parameter/${name.replace(/^\//, '')}`;

function nameOf(ctx: RequestContext): string {
  const name = ctx.input['Name'];
  if (typeof name !== 'string' || !name)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
    );
  if (name.length > 2048 || !NAME_RE.test(name))
    throw new AwsError(
      'ValidationException',
      `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.`,
    );
  ctx.authorize(`ssm:${ctx.action}`, arnOf(ctx, name));
  return name;
}

const notFound = () => new AwsError('ParameterNotFound', '', 400);

export const ssm: ServiceModule = {
  signingName: 'ssm',
  protocol: 'json',
  targetPrefix: 'AmazonSSM',
  actions: {
    GetParameter: (ctx) => {
      const name = nameOf(ctx);
      const p = store(ctx).get(keyOf(ctx, name));
      if (!p) throw notFound();
      return {
        Parameter: {
          Name: p.name,
          Type: p.type,
          Value: p.value,
          Version: p.version,
          LastModifiedDate: new Date(p.lastModified),
          ARN: arnOf(ctx, p.name),
          DataType: 'text',
        },
      };
    },
    PutParameter: (ctx) => {
      const name = nameOf(ctx);
      const value = ctx.input['Value'];
      if (typeof value !== 'string' || value.length === 0)
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
        );
      if (value.length > MAX_VALUE)
        throw new AwsError(
          'ValidationException',
          'Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.',
        );
      const type = (ctx.input['Type'] as ParameterRecord['type'] | undefined) ?? 'String';
      const existing = store(ctx).get(keyOf(ctx, name));
      if (existing && ctx.input['Overwrite'] !== true)
        throw new AwsError(
          'ParameterAlreadyExists',
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
        );
      const record: ParameterRecord = {
        name,
        value,
        type,
        version: (existing?.version ?? 0) + 1,
        lastModified: ctx.now,
        ...(typeof ctx.input['Description'] === 'string' ? { description: ctx.input['Description'] } : {}),
      };
      store(ctx).set(keyOf(ctx, name), record);
      return { Version: record.version, Tier: 'Standard' };
    },
    DeleteParameter: (ctx) => {
      const name = nameOf(ctx);
      if (!store(ctx).delete(keyOf(ctx, name))) throw notFound();
      return {};
    },
  },
};
