/**
 * A small recording stand-in for AWS, over real HTTP, for the Jenkins emulator's web-identity canary: STS
 * AssumeRoleWithWebIdentity (AWS Query, unsigned) and GetCallerIdentity, ECR GetAuthorizationToken (JSON 1.1) and the
 * registry's `GET /v2/`. It answers like AWS on the happy path, or refuses where a test says; it checks nothing about
 * the token (tests verify it themselves). The end-to-end test against the AWS emulator is another file.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  /** `sts:AssumeRoleWithWebIdentity`, `sts:GetCallerIdentity`, `ecr:GetAuthorizationToken`, `registry:GET /v2/`. */
  action: string;
  /** Form parameters (STS) or the JSON body (ECR). */
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
}

export interface FakeAwsOptions {
  account?: string;
  /** Refuse AssumeRoleWithWebIdentity with this AWS error. */
  refuseAssume?: { status: number; code: string; message: string };
  /** The registry answers /v2/ with this status instead of checking the token. */
  registryStatus?: number;
}

export interface FakeAws {
  url: string;
  calls: RecordedCall[];
  options: FakeAwsOptions;
  /** The temporary credentials handed out, to check they are used (and never printed). */
  issued: { accessKeyId: string; secretAccessKey: string; sessionToken: string }[];
  registryPassword: string;
  close(): Promise<void>;
}

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function startFakeAws(options: FakeAwsOptions = {}): Promise<FakeAws> {
  const account = options.account ?? '123456789012';
  const calls: RecordedCall[] = [];
  const issued: FakeAws['issued'] = [];
  const registryPassword = `registry-${randomBytes(8).toString('hex')}`;
  const sessions = new Map<string, string>();
  let url = '';

  const send = (res: ServerResponse, status: number, type: string, body: string) =>
    res.writeHead(status, { 'content-type': type }).end(body);
  const stsError = (res: ServerResponse, status: number, code: string, message: string) =>
    send(
      res,
      status,
      'text/xml',
      `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomBytes(8).toString('hex')}</RequestId></ErrorResponse>`,
    );

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    if (req.method === 'GET' && req.url === '/v2/') {
      calls.push({ action: 'registry:GET /v2/', params: {}, headers: req.headers });
      const expected = `Basic ${Buffer.from(`AWS:${registryPassword}`).toString('base64')}`;
      const status = options.registryStatus ?? (req.headers.authorization === expected ? 200 : 401);
      return send(res, status, 'application/json', '{}');
    }
    const target = req.headers['x-amz-target'];
    if (target === 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
      calls.push({ action: 'ecr:GetAuthorizationToken', params: {}, headers: req.headers });
      return send(
        res,
        200,
        'application/x-amz-json-1.1',
        JSON.stringify({
          authorizationData: [
            {
              authorizationToken: Buffer.from(`AWS:${registryPassword}`).toString('base64'),
              expiresAt: Math.floor(Date.now() / 1000) + 43200,
              proxyEndpoint: url,
            },
          ],
        }),
      );
    }
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params['Action'] ?? '';
    calls.push({ action: `sts:${action}`, params, headers: req.headers });
    if (action === 'AssumeRoleWithWebIdentity') {
      if (options.refuseAssume)
        return stsError(
          res,
          options.refuseAssume.status,
          options.refuseAssume.code,
          options.refuseAssume.message,
        );
      const role = (params['RoleArn'] ?? '').split('/').pop() ?? '';
      const session = params['RoleSessionName'] ?? '';
      const creds = {
        accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: randomBytes(60).toString('base64'),
      };
      issued.push(creds);
      const arn = `arn:aws:sts::${account}:assumed-role/${role}/${session}`;
      sessions.set(creds.accessKeyId, arn);
      return send(
        res,
        200,
        'text/xml',
        `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}"><AssumeRoleWithWebIdentityResult>` +
          `<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>` +
          `<AssumedRoleUser><Arn>${xmlEscape(arn)}</Arn><AssumedRoleId>AROAFAKE:${xmlEscape(session)}</AssumedRoleId></AssumedRoleUser>` +
          `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey>` +
          `<SessionToken>${creds.sessionToken}</SessionToken><Expiration>${new Date(Date.now() + 3600_000).toISOString()}</Expiration></Credentials>` +
          `<Provider>issuer</Provider></AssumeRoleWithWebIdentityResult>` +
          `<ResponseMetadata><RequestId>${randomBytes(8).toString('hex')}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
      );
    }
    if (action === 'GetCallerIdentity') {
      const keyId = /Credential=([A-Z0-9]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const arn = sessions.get(keyId);
      if (!arn)
        return stsError(
          res,
          403,
          'InvalidClientTokenId',
          'The security token included in the request is invalid.',
        );
      return send(
        res,
        200,
        'text/xml',
        `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult><Arn>${xmlEscape(arn)}</Arn>` +
          `<UserId>AROAFAKE:session</UserId><Account>${account}</Account></GetCallerIdentityResult>` +
          `<ResponseMetadata><RequestId>${randomBytes(8).toString('hex')}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    }
    return stsError(res, 400, 'InvalidAction', `Could not find operation ${action}`);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    options,
    issued,
    registryPassword,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
