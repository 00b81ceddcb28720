import { describe, expect, it } from 'vitest';
import {
  accountOfArn,
  parseCredentialReport,
  parseCsv,
  pathOfUserArn,
  slotHasKey,
} from '../../src/scan/credential-report';

const HEADER =
  'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,' +
  'access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,' +
  'access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,' +
  'cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated';

describe('parseCsv', () => {
  it('handles quoted cells with commas, quotes and line breaks, and CRLF', () => {
    expect(parseCsv('a,"b,c","say ""hi""","x\ny"\r\n1,2,3,4')).toEqual([
      ['a', 'b,c', 'say "hi"', 'x\ny'],
      ['1', '2', '3', '4'],
    ]);
  });
});

describe('parseCredentialReport', () => {
  const csv = [
    HEADER,
    '<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,no_information,not_supported,not_supported,false,true,2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A',
    'jenkins-prod,arn:aws:iam::111122223333:user/jenkins/jenkins-prod,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,' +
      'true,2026-02-01T10:00:00+00:00,2026-05-31T09:00:00+00:00,us-east-1,ecr,' +
      'false,2025-10-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A',
    'console,arn:aws:iam::111122223333:user/console,2025-01-01T00:00:00+00:00,true,2026-05-01T00:00:00+00:00,N/A,N/A,true,' +
      'false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A',
  ].join('\n');

  it('reads both key slots of each user and leaves out the root account', () => {
    const rows = parseCredentialReport(csv);
    expect(rows.map((r) => r.user)).toEqual(['jenkins-prod', 'console']);
    expect(rows[0]).toEqual({
      user: 'jenkins-prod',
      arn: 'arn:aws:iam::111122223333:user/jenkins/jenkins-prod',
      keys: [
        {
          active: true,
          lastRotated: new Date('2026-02-01T10:00:00Z'),
          lastUsedDate: new Date('2026-05-31T09:00:00Z'),
          lastUsedService: 'ecr',
        },
        { active: false, lastRotated: new Date('2025-10-01T10:00:00Z') },
      ],
    });
    expect(rows[0]?.keys.map(slotHasKey)).toEqual([true, true]);
    expect(rows[1]?.keys.map(slotHasKey)).toEqual([false, false]);
  });

  it('refuses a report without the key columns', () => {
    expect(() => parseCredentialReport('user,arn\nbob,arn:aws:iam::1:user/bob')).toThrow(
      /access_key_1_active/,
    );
  });
});

describe('ARN helpers', () => {
  it.each([
    ['arn:aws:iam::111122223333:user/ci', '/'],
    ['arn:aws:iam::111122223333:user/jenkins/ci', '/jenkins/'],
    ['arn:aws:iam::111122223333:user/a/b/ci', '/a/b/'],
  ])('%s is on path %s', (arn, path) => {
    expect(pathOfUserArn(arn)).toBe(path);
    expect(accountOfArn(arn)).toBe('111122223333');
  });
});
