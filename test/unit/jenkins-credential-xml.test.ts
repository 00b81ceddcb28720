import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  AWS_CREDENTIALS_CLASS,
  CredentialXmlError,
  decodeXmlText,
  escapeXml,
  newCredentialXml,
  parseCredentialXml,
  replaceKeyInXml,
  USERNAME_PASSWORD_CLASS,
} from '../../src/jenkins/credential-xml';

const NEW_KEY = { accessKeyId: 'AKIAFAKENEW000000002', secretAccessKey: 'fake/secret+NEW&<key>"\'0002' };

// What GET config.xml returns for an AWS credential with every optional field set (jenkins-api.md §4.4, §6.1).
const AWS_GET = `<com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl plugin="aws-credentials@262.v0efb_28f71f94">
  <scope>GLOBAL</scope>
  <id>aws-deploy</id>
  <description>prod &amp; staging &lt;deploy&gt; key</description>
  <accessKey>AKIAFAKEOLD000000001</accessKey>
  <secretKey>
    <secret-redacted/>
  </secretKey>
  <iamRoleArn>arn:aws:iam::123456789012:role/deployer</iamRoleArn>
  <iamExternalId>ext-123</iamExternalId>
  <iamMfaSerialNumber>arn:aws:iam::123456789012:mfa/jenkins</iamMfaSerialNumber>
  <stsTokenDuration>1800</stsTokenDuration>
  <futureField attr="x">kept as is</futureField>
</com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl>`;

const UP_GET = `<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl plugin="credentials@1502.v5c95e620ddfe">
  <scope>SYSTEM</scope>
  <id>aws-as-userpass</id>
  <description>AWS key as user/pass</description>
  <username>AKIAFAKEOLD000000001</username>
  <password>
    <secret-redacted/>
  </password>
  <usernameSecret>true</usernameSecret>
</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>`;

/** Element names and decoded texts of the root's children, in order, via an independent plain parse. */
function childrenOf(xml: string): Array<[string, string]> {
  const tree = new XMLParser({ preserveOrder: true, parseTagValue: false, ignoreAttributes: true }).parse(
    xml,
  ) as Array<Record<string, Array<Record<string, Array<{ '#text'?: string }>>>>>;
  const root = tree[0]!;
  const cls = Object.keys(root)[0]!;
  return root[cls]!.map((child) => {
    const name = Object.keys(child)[0]!;
    const text = (child[name] ?? []).map((t) => t['#text'] ?? '').join('');
    return [name, text];
  });
}

describe('replaceKeyInXml (AWS)', () => {
  const out = replaceKeyInXml(AWS_GET, 'aws', NEW_KEY);

  it('replaces accessKey and the redacted secretKey, keeping every other element in order', () => {
    expect(childrenOf(out)).toEqual([
      ['scope', 'GLOBAL'],
      ['id', 'aws-deploy'],
      ['description', 'prod & staging <deploy> key'],
      ['accessKey', NEW_KEY.accessKeyId],
      ['secretKey', NEW_KEY.secretAccessKey],
      ['iamRoleArn', 'arn:aws:iam::123456789012:role/deployer'],
      ['iamExternalId', 'ext-123'],
      ['iamMfaSerialNumber', 'arn:aws:iam::123456789012:mfa/jenkins'],
      ['stsTokenDuration', '1800'],
      ['futureField', 'kept as is'],
    ]);
  });

  it('writes untouched elements byte for byte and escapes the new values', () => {
    expect(out).toContain('<description>prod &amp; staging &lt;deploy&gt; key</description>');
    expect(out).toContain('<futureField attr="x">kept as is</futureField>');
    expect(out).toContain('<secretKey>fake/secret+NEW&amp;&lt;key&gt;&quot;&apos;0002</secretKey>');
    expect(out).toContain(`<${AWS_CREDENTIALS_CLASS} plugin="aws-credentials@262.v0efb_28f71f94">`);
    expect(out).not.toContain('secret-redacted');
    expect(out).not.toContain('AKIAFAKEOLD');
  });

  it('puts no whitespace inside the secret element', () => {
    expect(out).toMatch(/<secretKey>[^\s<]+<\/secretKey>/);
  });

  it('is stable: replacing again yields the same document', () => {
    expect(replaceKeyInXml(out, 'aws', NEW_KEY)).toBe(out);
  });

  it('drops an XML declaration and keeps comments and CDATA', () => {
    const withExtras = `<?xml version='1.1' encoding='UTF-8'?>\n${AWS_GET.replace(
      '<scope>',
      '<!-- note --><extra><![CDATA[a <b> & c]]></extra><scope>',
    )}`;
    const result = replaceKeyInXml(withExtras, 'aws', NEW_KEY);
    expect(result.startsWith(`<${AWS_CREDENTIALS_CLASS}`)).toBe(true);
    expect(result).toContain('<!-- note --><extra><![CDATA[a <b> & c]]></extra>');
  });

  it('keeps numeric character references as they were', () => {
    const xml = AWS_GET.replace('key</description>', 'key&#10;&#x41;</description>');
    expect(replaceKeyInXml(xml, 'aws', NEW_KEY)).toContain('key&#10;&#x41;</description>');
  });
});

describe('replaceKeyInXml (usernamePassword)', () => {
  const out = replaceKeyInXml(UP_GET, 'usernamePassword', NEW_KEY);

  it('replaces username and password and keeps usernameSecret and scope', () => {
    expect(childrenOf(out)).toEqual([
      ['scope', 'SYSTEM'],
      ['id', 'aws-as-userpass'],
      ['description', 'AWS key as user/pass'],
      ['username', NEW_KEY.accessKeyId],
      ['password', NEW_KEY.secretAccessKey],
      ['usernameSecret', 'true'],
    ]);
    expect(out.startsWith(`<${USERNAME_PASSWORD_CLASS}`)).toBe(true);
  });
});

describe('replaceKeyInXml errors', () => {
  it('refuses a document of another class', () => {
    expect(() => replaceKeyInXml(UP_GET, 'aws', NEW_KEY)).toThrow(CredentialXmlError);
    expect(() => replaceKeyInXml(UP_GET, 'aws', NEW_KEY)).toThrow(
      /UsernamePasswordCredentialsImpl, expected .*AWSCredentialsImpl/,
    );
    expect(() => replaceKeyInXml(AWS_GET, 'usernamePassword', NEW_KEY)).toThrow(CredentialXmlError);
  });

  it.each([
    ['accessKey', AWS_GET.replace(/<accessKey>.*<\/accessKey>/, '')],
    ['secretKey', AWS_GET.replace(/<secretKey>[\s\S]*<\/secretKey>/, '')],
    ['id', AWS_GET.replace(/<id>.*<\/id>/, '')],
  ])('refuses a document without <%s>', (name, xml) => {
    expect(() => replaceKeyInXml(xml, 'aws', NEW_KEY)).toThrow(`lacks the <${name}> element`);
  });

  it('refuses duplicate key elements', () => {
    const xml = AWS_GET.replace('<iamRoleArn>', '<accessKey>B</accessKey><iamRoleArn>');
    expect(() => replaceKeyInXml(xml, 'aws', NEW_KEY)).toThrow('has 2 <accessKey> elements');
  });

  it.each([
    ['malformed XML', '<a><b></a>', /not well-formed/],
    ['empty input', '  ', /empty/],
    ['a DOCTYPE', `<!DOCTYPE x [<!ENTITY e "v">]>${AWS_GET}`, /DOCTYPE/],
    ['two roots', `${AWS_GET}${AWS_GET}`, /one root|not well-formed/],
  ])('refuses %s', (_label, xml, message) => {
    expect(() => replaceKeyInXml(xml, 'aws', NEW_KEY)).toThrow(message);
  });

  it('refuses keys with whitespace or that are empty, without echoing the secret', () => {
    const bad = [
      { accessKeyId: '', secretAccessKey: 's3cretvalue' },
      { accessKeyId: 'AKIA X', secretAccessKey: 's3cretvalue' },
      { accessKeyId: 'AKIAX', secretAccessKey: '' },
      { accessKeyId: 'AKIAX', secretAccessKey: ' s3cretvalue' },
      { accessKeyId: 'AKIAX', secretAccessKey: 's3cretvalue\n' },
    ];
    for (const key of bad) {
      let message = '';
      try {
        replaceKeyInXml(AWS_GET, 'aws', key);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain('s3cretvalue');
    }
  });

  it('refuses control characters that XML cannot carry', () => {
    expect(() => replaceKeyInXml(AWS_GET, 'aws', { ...NEW_KEY, secretAccessKey: 'a\u0001b' })).toThrow(
      CredentialXmlError,
    );
  });
});

describe('parseCredentialXml', () => {
  it('returns the visible fields of an AWS credential and which were redacted', () => {
    const doc = parseCredentialXml(AWS_GET);
    expect(doc).toMatchObject({
      className: AWS_CREDENTIALS_CLASS,
      kind: 'aws',
      id: 'aws-deploy',
      scope: 'GLOBAL',
      description: 'prod & staging <deploy> key',
      accessKeyId: 'AKIAFAKEOLD000000001',
      redacted: ['secretKey'],
    });
    expect(doc.fields['stsTokenDuration']).toBe('1800');
    expect(doc.xml).toBe(AWS_GET);
  });

  it('reads the username of a username/password credential as the access key id', () => {
    expect(parseCredentialXml(UP_GET)).toMatchObject({
      kind: 'usernamePassword',
      accessKeyId: 'AKIAFAKEOLD000000001',
    });
  });

  it('reports other classes as other', () => {
    const xml =
      '<org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl><scope>GLOBAL</scope><id>t</id><secret><secret-redacted/></secret></org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl>';
    expect(parseCredentialXml(xml)).toMatchObject({
      kind: 'other',
      id: 't',
      accessKeyId: undefined,
      redacted: ['secret'],
    });
  });
});

describe('newCredentialXml', () => {
  it('builds an AWS document with scope, id, description and the IAM fields', () => {
    const xml = newCredentialXml({
      kind: 'aws',
      id: 'aws-deploy',
      description: 'a & b',
      accessKeyId: NEW_KEY.accessKeyId,
      secretAccessKey: NEW_KEY.secretAccessKey,
      iamRoleArn: 'arn:aws:iam::123456789012:role/r',
    });
    expect(xml.startsWith(`<${AWS_CREDENTIALS_CLASS}>`)).toBe(true);
    expect(childrenOf(xml)).toEqual([
      ['scope', 'GLOBAL'],
      ['id', 'aws-deploy'],
      ['description', 'a & b'],
      ['accessKey', NEW_KEY.accessKeyId],
      ['secretKey', NEW_KEY.secretAccessKey],
      ['iamRoleArn', 'arn:aws:iam::123456789012:role/r'],
      ['iamExternalId', ''],
      ['iamMfaSerialNumber', ''],
    ]);
  });

  it('builds a username/password document', () => {
    const xml = newCredentialXml({
      kind: 'usernamePassword',
      id: 'up',
      scope: 'SYSTEM',
      accessKeyId: NEW_KEY.accessKeyId,
      secretAccessKey: NEW_KEY.secretAccessKey,
    });
    expect(xml.startsWith(`<${USERNAME_PASSWORD_CLASS}>`)).toBe(true);
    expect(childrenOf(xml)).toEqual([
      ['scope', 'SYSTEM'],
      ['id', 'up'],
      ['description', ''],
      ['username', NEW_KEY.accessKeyId],
      ['password', NEW_KEY.secretAccessKey],
      ['usernameSecret', 'false'],
    ]);
  });

  it('round-trips through replaceKeyInXml', () => {
    const xml = newCredentialXml({ kind: 'aws', id: 'x', accessKeyId: 'AKIAONE', secretAccessKey: 'one' });
    expect(parseCredentialXml(replaceKeyInXml(xml, 'aws', NEW_KEY)).accessKeyId).toBe(NEW_KEY.accessKeyId);
  });

  it('refuses an empty id and a role ARN on a username/password credential', () => {
    expect(() => newCredentialXml({ kind: 'aws', id: '', accessKeyId: 'A', secretAccessKey: 'b' })).toThrow(
      /id/,
    );
    expect(() =>
      newCredentialXml({
        kind: 'usernamePassword',
        id: 'x',
        accessKeyId: 'A',
        secretAccessKey: 'b',
        iamRoleArn: 'arn',
      }),
    ).toThrow(/AWS credentials only/);
  });
});

describe('escapeXml / decodeXmlText', () => {
  it('escapes the five special characters and decodes them back', () => {
    const raw = `a&b<c>d"e'f`;
    expect(escapeXml(raw)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
    expect(decodeXmlText(escapeXml(raw))).toBe(raw);
    expect(decodeXmlText('&#65;&#x42;&unknown;')).toBe('AB&unknown;');
    expect(escapeXml('a\r\nb')).toBe('a&#13;\nb');
  });
});
