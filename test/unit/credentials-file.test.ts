import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsFileOf, readProfileKey, writeProfileKey } from '../../src/aws/credentials-file';

const OLD = {
  accessKeyId: 'AKIAOLDOLDOLDOLDOLD1',
  secretAccessKey: 'old-secret-0000000000000000000000000000',
};
const NEW = {
  accessKeyId: 'AKIANEWNEWNEWNEWNEW1',
  secretAccessKey: 'new-secret-1111111111111111111111111111',
};

async function fileWith(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'jkr-creds-'));
  const path = join(dir, 'credentials');
  await writeFile(path, text);
  return path;
}

describe('the shared credentials file of a self-rotation outside Jenkins', () => {
  it('follows AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE like the SDK', () => {
    expect(credentialsFileOf({ AWS_SHARED_CREDENTIALS_FILE: '/x/creds', AWS_PROFILE: 'edge' })).toEqual({
      path: '/x/creds',
      profile: 'edge',
    });
    expect(credentialsFileOf({}).profile).toBe('default');
  });

  it("replaces one profile's key, keeping every other line, and writes the file 0600", async () => {
    const path = await fileWith(
      [
        '# managed by ops',
        '[default]',
        'aws_access_key_id = AKIAOTHEROTHEROTHER1',
        'aws_secret_access_key = other',
        '',
        '[edge]',
        `aws_access_key_id = ${OLD.accessKeyId}`,
        `aws_secret_access_key = ${OLD.secretAccessKey}`,
        'region = eu-west-1',
        '',
      ].join('\n'),
    );
    const file = { path, profile: 'edge' };
    expect(await readProfileKey(file)).toEqual(OLD);
    await writeProfileKey(file, NEW);
    expect(await readProfileKey(file)).toEqual(NEW);
    expect(await readProfileKey({ path, profile: 'default' })).toEqual({
      accessKeyId: 'AKIAOTHEROTHEROTHER1',
      secretAccessKey: 'other',
    });
    const text = await readFile(path, 'utf8');
    expect(text).toContain('# managed by ops');
    expect(text).toContain('region = eu-west-1');
    expect(text).not.toContain(OLD.secretAccessKey);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('adds the profile when the file has none', async () => {
    const path = await fileWith('[default]\nregion = us-east-1\n');
    await writeProfileKey({ path, profile: 'edge' }, NEW);
    expect(await readProfileKey({ path, profile: 'edge' })).toEqual(NEW);
    expect(await readProfileKey({ path, profile: 'default' })).toBeUndefined();
  });
});
