import { describe, expect, it } from 'vitest';
import {
  classifyError,
  JenkinsError,
  type HeaderBag,
  type JenkinsErrorReason,
} from '../../src/jenkins/errors';

const JSON_TYPE = { 'content-type': 'application/json' };
const HTML_TYPE = { 'content-type': 'text/html;charset=utf-8' };
const jettyJson = (status: number, message: string): string =>
  JSON.stringify({ url: '/x', status: String(status), message, servlet: 'Stapler' });

describe('classifyError', () => {
  const table: Array<[string, number, HeaderBag, string, string, JenkinsErrorReason, string | undefined]> = [
    [
      'bad token',
      401,
      { ...JSON_TYPE, 'www-authenticate': 'Basic realm="Jenkins"' },
      'GET',
      jettyJson(401, 'Unauthorized'),
      'unauthorized',
      undefined,
    ],
    [
      'crumb missing (JSON body)',
      403,
      JSON_TYPE,
      'POST',
      jettyJson(403, 'No valid crumb was included in the request'),
      'crumb',
      undefined,
    ],
    [
      'crumb missing (HTML body)',
      403,
      HTML_TYPE,
      'POST',
      '<h2>HTTP ERROR 403 No valid crumb was included in the request</h2>',
      'crumb',
      undefined,
    ],
    ['bare 403 on a POST', 403, {}, 'POST', '', 'crumb', undefined],
    [
      'missing permission on POST',
      403,
      {
        ...HTML_TYPE,
        'x-required-permission': 'com.cloudbees.plugins.credentials.CredentialsProvider.Update',
        'x-you-are-authenticated-as': 'bob',
      },
      'POST',
      '<html>Access Denied</html>',
      'forbidden',
      'com.cloudbees.plugins.credentials.CredentialsProvider.Update',
    ],
    [
      'missing permission on GET',
      403,
      { 'X-Required-Permission': 'hudson.model.Hudson.Read' },
      'GET',
      '',
      'forbidden',
      'hudson.model.Hudson.Read',
    ],
    ['bare 403 on a GET', 403, {}, 'GET', '', 'forbidden', undefined],
    ['unknown id', 404, HTML_TYPE, 'GET', '<html>Not found</html>', 'not-found', undefined],
    ['duplicate', 409, {}, 'POST', '', 'conflict', undefined],
    ['oops page', 500, HTML_TYPE, 'POST', '<html>Oops!</html>', 'server', undefined],
    ['bad gateway', 502, {}, 'GET', '', 'server', undefined],
    ['rate limited', 429, {}, 'GET', '', 'server', undefined],
    ['request timeout', 408, {}, 'GET', '', 'timeout', undefined],
    [
      '302 to Jenkins login',
      302,
      { location: 'https://ci.example/login?from=%2Fcredentials' },
      'GET',
      '',
      'login-page',
      undefined,
    ],
    [
      '302 to an IdP',
      302,
      { location: 'https://idp.example/oauth2/authorize?client_id=x' },
      'GET',
      '',
      'login-page',
      undefined,
    ],
    [
      '302 to a SAML gateway',
      302,
      { location: 'https://sso.example/saml/login' },
      'POST',
      '',
      'login-page',
      undefined,
    ],
    [
      'http to https redirect',
      301,
      { location: 'https://ci.example/credentials/store/system/' },
      'GET',
      '',
      'redirect',
      undefined,
    ],
    ['redirect without Location', 307, {}, 'GET', '', 'redirect', undefined],
    [
      '200 HTML instead of data',
      200,
      HTML_TYPE,
      'GET',
      '<!DOCTYPE html><html>Sign in</html>',
      'login-page',
      undefined,
    ],
    [
      '200 HTML without content type',
      200,
      {},
      'GET',
      '<html><body>Sign in</body></html>',
      'login-page',
      undefined,
    ],
    ['200 garbage', 200, { 'content-type': 'text/plain' }, 'GET', 'hello', 'bad-response', undefined],
    [
      '405 on GET createCredentials',
      405,
      { ...HTML_TYPE, allow: 'POST' },
      'GET',
      '<html/>',
      'bad-response',
      undefined,
    ],
    [
      '400 missing Content-Type',
      400,
      { 'x-error': 'No Content-Type header set' },
      'POST',
      '<html/>',
      'bad-response',
      undefined,
    ],
  ];

  it.each(table)('%s → %s', (_label, status, headers, method, body, reason, permission) => {
    const c = classifyError(status, headers, method, body);
    expect(c.reason).toBe(reason);
    expect(c.requiredPermission).toBe(permission);
  });

  it('keeps Jenkins short messages as detail', () => {
    expect(
      classifyError(403, JSON_TYPE, 'POST', jettyJson(403, 'No valid crumb was included in the request'))
        .detail,
    ).toBe('No valid crumb was included in the request');
    expect(classifyError(400, { 'x-error': 'No Content-Type header set' }, 'POST', '').detail).toBe(
      'No Content-Type header set',
    );
  });

  it('hints at a dropped Authorization header when Jenkins saw anonymous', () => {
    const c = classifyError(
      403,
      { 'x-required-permission': 'hudson.model.Hudson.Read', 'x-you-are-authenticated-as': 'anonymous' },
      'GET',
      '',
    );
    expect(c).toMatchObject({ reason: 'forbidden', requiredPermission: 'hudson.model.Hudson.Read' });
    expect(c.detail).toMatch(/anonymous/);
  });

  it('never copies an HTML body into the detail', () => {
    const c = classifyError(500, HTML_TYPE, 'POST', '<html>Oops! secret stack trace</html>');
    expect(c.detail).toBeUndefined();
  });

  it('does not put the login redirect query into the detail', () => {
    const c = classifyError(
      302,
      { location: 'https://idp.example/oauth2/authorize?state=abc123' },
      'GET',
      '',
    );
    expect(c.detail).toContain('idp.example/oauth2/authorize');
    expect(c.detail).not.toContain('abc123');
  });

  it('truncates long messages', () => {
    const c = classifyError(409, JSON_TYPE, 'DELETE', jettyJson(409, 'x'.repeat(1000)));
    expect(c.detail!.length).toBeLessThanOrEqual(201);
  });
});

describe('JenkinsError', () => {
  it('carries method, path without query, status, reason and permission', () => {
    const e = new JenkinsError({
      method: 'POST',
      path: '/job/a/buildWithParameters?TOKEN=abc',
      status: 403,
      reason: 'forbidden',
      requiredPermission: 'hudson.model.Item.Build',
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('JenkinsError');
    expect(e.path).toBe('/job/a/buildWithParameters');
    expect(e.message).toBe('Jenkins POST /job/a/buildWithParameters failed (forbidden 403)');
    expect(e.message).not.toContain('abc');
    expect(e.retryable).toBe(false);
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({
      name: 'JenkinsError',
      method: 'POST',
      status: 403,
      reason: 'forbidden',
      requiredPermission: 'hudson.model.Item.Build',
    });
  });

  it.each<[JenkinsErrorReason, boolean]>([
    ['server', true],
    ['network', true],
    ['timeout', true],
    ['unauthorized', false],
    ['not-found', false],
    ['login-page', false],
  ])('%s is retryable: %s', (reason, retryable) => {
    expect(new JenkinsError({ method: 'GET', path: '/', reason }).retryable).toBe(retryable);
  });

  it('serializes its cause by name and message only', () => {
    const cause = Object.assign(new Error('ECONNRESET'), { config: { auth: 'x' } });
    const json = JSON.stringify(new JenkinsError({ method: 'GET', path: '/', reason: 'network', cause }));
    expect(json).toContain('ECONNRESET');
    expect(json).not.toContain('config');
  });
});
