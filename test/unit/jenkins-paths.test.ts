import { describe, expect, it } from 'vitest';
import {
  credentialPath,
  itemPath,
  JenkinsPathError,
  queueItemPath,
  storePath,
} from '../../src/jenkins/paths';

describe('storePath', () => {
  it('addresses the global domain of the system store', () => {
    expect(storePath({ kind: 'system' })).toBe('/credentials/store/system/domain/_');
  });

  it('maps a folder to its /job/ chain', () => {
    expect(storePath({ kind: 'folder', path: 'team-a' })).toBe(
      '/job/team-a/credentials/store/folder/domain/_',
    );
    expect(storePath({ kind: 'folder', path: 'a/b' })).toBe('/job/a/job/b/credentials/store/folder/domain/_');
  });

  it('ignores leading and trailing slashes of a folder path', () => {
    expect(storePath({ kind: 'folder', path: '/a/b/' })).toBe(
      '/job/a/job/b/credentials/store/folder/domain/_',
    );
  });

  it('percent-encodes folder segments', () => {
    expect(storePath({ kind: 'folder', path: 'team a/ü#?' })).toBe(
      '/job/team%20a/job/%C3%BC%23%3F/credentials/store/folder/domain/_',
    );
  });

  it.each(['', 'a//b', 'a/../b', 'a/./b', 'a;b', 'x/y;z', 'a\nb'])('rejects folder path %j', (path) => {
    expect(() => storePath({ kind: 'folder', path })).toThrow(JenkinsPathError);
  });

  it('says what is wrong', () => {
    expect(() => storePath({ kind: 'folder', path: 'a;b' })).toThrow(/must not contain ';'/);
  });
});

describe('credentialPath', () => {
  it('uses the singular credential/ form and encodes the id', () => {
    expect(credentialPath({ kind: 'system' }, 'aws-deploy')).toBe(
      '/credentials/store/system/domain/_/credential/aws-deploy',
    );
    expect(credentialPath({ kind: 'folder', path: 'a/b' }, 'my key+1')).toBe(
      '/job/a/job/b/credentials/store/folder/domain/_/credential/my%20key%2B1',
    );
  });

  it.each(['', 'a/b', 'a;b', '..', '.'])('rejects id %j with a clear error', (id) => {
    expect(() => credentialPath({ kind: 'system' }, id)).toThrow(JenkinsPathError);
  });

  it('names the offending part', () => {
    expect(() => credentialPath({ kind: 'system' }, 'a/b')).toThrow("credential id must not contain '/'");
    expect(() => credentialPath({ kind: 'system' }, 'a;b')).toThrow("credential id must not contain ';'");
  });
});

describe('itemPath', () => {
  it('maps a job in a folder', () => {
    expect(itemPath('job path', 'team-a/canary')).toBe('/job/team-a/job/canary');
  });
});

describe('queueItemPath', () => {
  it('keeps only the queue item path of an absolute Location with a foreign host', () => {
    expect(queueItemPath('http://internal-host:8080/jenkins/queue/item/4711/')).toBe('/queue/item/4711/');
  });

  it('accepts relative locations and a missing trailing slash', () => {
    expect(queueItemPath('/queue/item/12')).toBe('/queue/item/12/');
  });

  it('rejects anything else', () => {
    expect(queueItemPath('https://ci.example/job/x/12/')).toBeUndefined();
    expect(queueItemPath('http://[bad')).toBeUndefined();
  });
});
