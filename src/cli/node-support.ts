/**
 * The AWS SDK for JavaScript v3's notice about Node.js versions. @aws-sdk/core (emitWarningIfUnsupportedVersion,
 * called by every client's constructor) prints a 9-line NodeVersionSupportWarning through process.emitWarning, once
 * per process, on Node.js older than 22: SDK releases after the first week of January 2027 need Node.js 22. Its one
 * supported switch is the environment variable below, read when the first client is made. The CLI sets it (unless
 * the user set it) and says the same once, in one line, where it matters: `key-rotator doctor`, the command that
 * checks this machine. The Lambdas run nodejs22.x, which the notice does not concern.
 */
export const SDK_NODE_NOTICE_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** The oldest Node.js major that AWS SDK releases after the first week of January 2027 support. */
export const SDK_NODE_MAJOR = 22;

/** Turns the SDK's own notice off for this process, unless the environment already decides. */
export function quietSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  env[SDK_NODE_NOTICE_SWITCH] ??= 'true';
}

/** The notice in one line, for a Node.js older than the SDK's coming minimum; undefined otherwise. */
export function nodeSupportNote(version: string = process.version): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (!Number.isFinite(major) || major >= SDK_NODE_MAJOR) return undefined;
  return `Node.js ${version} runs this CLI: AWS SDK for JavaScript releases after the first week of January 2027 need Node.js ${SDK_NODE_MAJOR} or newer; upgrade Node.js on this machine to keep getting SDK fixes (the Lambdas run nodejs22.x and are not concerned)`;
}
