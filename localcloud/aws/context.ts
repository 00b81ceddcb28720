import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { CallRecord } from '../calls';
import { AwsError } from './errors';
import type { QueryParams } from './protocols';
import type { AccountState, AwsState, Principal } from './state';
import { isAllowed } from './state';

/** What a service action handler sees of its request. */
export interface RequestContext {
  state: AwsState;
  /** The account of the caller: where its IAM users, secrets and registries live. */
  account: AccountState;
  principal: Principal;
  region: string;
  service: string;
  action: string;
  requestId: string;
  /** The call's place in the shared sequence (CallLog). */
  callSeq: number;
  headers: IncomingHttpHeaders;
  /** AWS Query parameters (IAM, STS). Empty for JSON services. */
  params: QueryParams;
  /** JSON 1.1 input (Secrets Manager, ECR). Empty for Query services. */
  input: Record<string, unknown>;
  /** Emulated-clock epoch ms. */
  now: number;
  /** The caller's IP address (CloudTrail's sourceIPAddress). */
  sourceIp: string;
  /**
   * What CloudTrail records of this call, for the actions the service marks `trailed`: the handler fills in what
   * it knows (request parameters without secrets, response elements, resources, or another identity).
   */
  trail: TrailNote;
  /** Throws AccessDenied in the protocol's shape when the caller may not act on `resource`. */
  authorize(action: string, resource: string): void;
  /** Lets a handler run work after it has answered (RotateSecret invokes its function asynchronously). */
  defer(task: () => Promise<void>): void;
}

export type ActionHandler = (ctx: RequestContext) => unknown;

/** A resource a CloudTrail event names: its ARN (or id) and type (`AWS::IAM::Role`, `AWS::ECR::Repository`). */
export interface TrailResource {
  type: string;
  name: string;
  accountId?: string;
  /** Listed by LookupEvents only, not in the event's own `resources` (STS's issued key and session). */
  historyOnly?: true;
}

/** A handler's contribution to the CloudTrail event of its call (see trail-events.ts). */
export interface TrailNote {
  /** Replaces the caller's identity (AssumeRoleWithWebIdentity: the token's WebIdentityUser). */
  userIdentity?: Record<string, unknown>;
  /** The account whose event history gets the event; default: the caller's. */
  accountId?: string;
  /** Event history's `Username`; default: derived from the identity. */
  username?: string;
  requestParameters?: Record<string, unknown>;
  /** Recorded on success only. */
  responseElements?: Record<string, unknown>;
  resources?: TrailResource[];
  additionalEventData?: Record<string, unknown>;
}

export interface ServiceModule {
  /** The SigV4 signing name (credential scope service). */
  signingName: string;
  protocol: 'query' | 'json';
  /** JSON services: the X-Amz-Target prefix before the dot. */
  targetPrefix?: string;
  /**
   * Actions whose handler authorizes the caller on the resource before anything else: the server does not first
   * check them on `*` (which would name `*` in the AccessDenied).
   */
  authorizesOnResource?: ReadonlySet<string>;
  /** Actions served without a signature, as AWS serves them (STS AssumeRoleWithWebIdentity). */
  unauthenticated?: ReadonlySet<string>;
  /** Actions CloudTrail records in the event history, and whether each is read-only. */
  trailed?: Readonly<Record<string, { readOnly: boolean }>>;
  actions: Record<string, ActionHandler>;
}

/** A plain (non-AWS-API) HTTP route served by the emulator, such as the ECR registry's `/v2/`. */
export interface RawRoute {
  /** Prefix of the route's point names: `ecr-registry` → `ecr-registry:GET /v2/`. */
  name: string;
  matches(path: string): boolean;
  /** Answers the request; sets `call.caller` once it knows who is calling. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    state: AwsState,
    call: CallRecord,
    request: RawRequest,
  ): void;
  /** Answers an injected error in the route's own shape (`Throttling` translated as the route needs). */
  sendFault(res: ServerResponse, error: { code: string; message?: string; status?: number }): void;
}

/** What a raw route gets besides the request: its body, and SigV4 verification as the API services have it. */
export interface RawRequest {
  body: Buffer;
  /** Verifies the request's SigV4 signature for `signingName`; throws an AwsError (Query codes) when it fails. */
  authenticate(signingName: string): { principal: Principal; region: string };
}

export function accessDenied(
  protocol: 'query' | 'json',
  principal: Principal,
  action: string,
  resource: string,
) {
  const msg = `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource}`;
  return protocol === 'query'
    ? new AwsError('AccessDenied', msg, 403)
    : new AwsError('AccessDeniedException', msg, 400);
}

export function makeAuthorize(protocol: 'query' | 'json', principal: Principal) {
  return (action: string, resource: string): void => {
    if (!isAllowed(principal.permissions, action, resource, principal))
      throw accessDenied(protocol, principal, action, resource);
  };
}
