import { describe, expect, it } from 'vitest';
import { nodeSupportNote, quietSdkNodeNotice, SDK_NODE_NOTICE_SWITCH } from '../../src/cli/node-support';

describe("the AWS SDK's Node.js notice", () => {
  it('is one line for a Node.js older than 22, nothing from 22 on', () => {
    expect(nodeSupportNote('v20.19.0')).toMatch(
      /^Node\.js v20\.19\.0 runs this CLI: AWS SDK for JavaScript releases after the first week of January 2027 need Node\.js 22 or newer; /,
    );
    expect(nodeSupportNote('v20.19.0')).not.toContain('\n');
    expect(nodeSupportNote('v22.0.0')).toBeUndefined();
    expect(nodeSupportNote('v24.3.1')).toBeUndefined();
    expect(nodeSupportNote('nonsense')).toBeUndefined();
  });

  it("the SDK's own emission is switched off unless the environment already decides", () => {
    const env: NodeJS.ProcessEnv = {};
    quietSdkNodeNotice(env);
    expect(env[SDK_NODE_NOTICE_SWITCH]).toBe('true');
    const chosen: NodeJS.ProcessEnv = { [SDK_NODE_NOTICE_SWITCH]: 'false' };
    quietSdkNodeNotice(chosen);
    expect(chosen[SDK_NODE_NOTICE_SWITCH]).toBe('false');
  });
});
