import { createHmac } from 'node:crypto';
import type { ActionHandler, RequestContext } from './context';
import { AwsError, noSuchEntity } from './errors';
import {
  boolParam,
  ensure,
  ensureLength,
  ensureOneOf,
  paginate,
  pathParam,
  requiredName,
  requiredParam,
  targetUser,
  userView,
} from './iam-common';
import type { LoginProfileRecord, MfaDeviceRecord, UserRecord } from './state';

const MFA_DEVICES_PER_USER_MAX = 8;
const TOTP_STEP_MS = 30_000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// ---- TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), what a virtual MFA device shows ------------------

function base32Decode(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code a TOTP device with this base32 seed shows at `atMs` (epoch ms), `digits` long. */
export function totp(base32Seed: string, atMs: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / TOTP_STEP_MS)));
  const mac = createHmac('sha1', base32Decode(base32Seed)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

/** Whether two codes are consecutive codes of the device around `now` (a few steps of drift allowed). */
function consecutiveCodes(seed: string, now: number, code1: string, code2: string): boolean {
  for (let back = -1; back <= 3; back++) {
    const at = now - back * TOTP_STEP_MS;
    if (totp(seed, at - TOTP_STEP_MS) === code1 && totp(seed, at) === code2) return true;
  }
  return false;
}

// ---- login profiles ------------------------------------------------------------------------------------------

const noLoginProfile = (user: UserRecord) =>
  noSuchEntity(`Login Profile for User ${user.userName} cannot be found.`);

const loginProfileView = (user: UserRecord, p: LoginProfileRecord) => ({
  UserName: user.userName,
  CreateDate: new Date(p.createDate),
  PasswordResetRequired: p.passwordResetRequired,
});

/**
 * IAM's default password policy (the account has no custom one in the emulator): at least 8 characters, of at
 * least three kinds. The message names the rule, never the password.
 */
function checkPassword(password: string): void {
  const kinds = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (password.length < 8)
    throw new AwsError('PasswordPolicyViolation', 'Password should have a minimum length of 8', 400);
  if (kinds < 3)
    throw new AwsError(
      'PasswordPolicyViolation',
      'Password should have at least three of: uppercase letters, lowercase letters, numbers and symbols',
      400,
    );
}

// ---- MFA devices -----------------------------------------------------------------------------------------------

const noVirtualDevice = (serial: string) =>
  noSuchEntity(`VirtualMFADevice with serial number ${serial} doesn't exist.`);

function serialParam(ctx: RequestContext): string {
  const serial = requiredParam(ctx.params, 'SerialNumber');
  ensureLength(serial, 'SerialNumber', 9, 256);
  ensure(
    /^[\w+=/:,.@-]+$/.test(serial),
    'SerialNumber',
    serial,
    'satisfy regular expression pattern: [\\w+=/:,.@-]+',
  );
  return serial;
}

function codeParam(ctx: RequestContext, name: string): string {
  const code = requiredParam(ctx.params, name);
  ensure(/^\d{6}$/.test(code), name, code, 'satisfy regular expression pattern: [\\d]+');
  return code;
}

const mfaDeviceView = (d: MfaDeviceRecord) => ({
  UserName: d.userName,
  SerialNumber: d.serialNumber,
  EnableDate: d.enableDate === undefined ? undefined : new Date(d.enableDate),
});

/** IAM login profiles (console passwords) and MFA devices. */
export const loginActions: Record<string, ActionHandler> = {
  CreateLoginProfile: (ctx) => {
    const user = targetUser(ctx);
    const password = requiredParam(ctx.params, 'Password');
    ensure(
      password.length >= 1 && password.length <= 128,
      'Password',
      '***',
      'have length between 1 and 128',
    );
    const passwordResetRequired = boolParam(ctx.params, 'PasswordResetRequired') ?? false;
    if (user.loginProfile)
      throw new AwsError(
        'EntityAlreadyExists',
        `Login Profile for user ${user.userName} already exists.`,
        409,
      );
    checkPassword(password);
    // The password itself is not kept: nothing in the emulator signs in to the console.
    user.loginProfile = { createDate: ctx.now, passwordResetRequired };
    return { LoginProfile: loginProfileView(user, user.loginProfile) };
  },
  GetLoginProfile: (ctx) => {
    const user = targetUser(ctx);
    if (!user.loginProfile) throw noLoginProfile(user);
    return { LoginProfile: loginProfileView(user, user.loginProfile) };
  },
  DeleteLoginProfile: (ctx) => {
    const user = targetUser(ctx);
    if (!user.loginProfile) throw noLoginProfile(user);
    delete user.loginProfile;
    return undefined;
  },

  CreateVirtualMFADevice: (ctx) => {
    const name = requiredName(ctx.params, 'VirtualMFADeviceName', 226);
    const path = pathParam(ctx.params);
    const serial = `arn:aws:iam::${ctx.account.accountId}:mfa${path}${name}`;
    ctx.authorize('iam:CreateVirtualMFADevice', serial);
    if (ctx.account.mfaDevices.has(serial))
      throw new AwsError(
        'EntityAlreadyExists',
        'MFADevice entity at the same path and name already exists.',
        409,
      );
    const device = ctx.state.createVirtualMfaDevice(ctx.account.accountId, name, { path });
    // Base32StringSeed is a blob: base64 of the seed's characters. No QR code is drawn.
    return {
      VirtualMFADevice: {
        SerialNumber: device.serialNumber,
        Base32StringSeed: Buffer.from(device.seed ?? '').toString('base64'),
      },
    };
  },
  EnableMFADevice: (ctx) => {
    const serial = serialParam(ctx);
    const code1 = codeParam(ctx, 'AuthenticationCode1');
    const code2 = codeParam(ctx, 'AuthenticationCode2');
    const user = targetUser(ctx, true);
    const device = ctx.account.mfaDevices.get(serial);
    if (!device?.virtual || !device.seed) throw noVirtualDevice(serial);
    if (device.userName !== undefined)
      throw new AwsError('EntityAlreadyExists', 'MFA Device is already in use.', 409);
    if (ctx.state.mfaDevicesOf(user).length >= MFA_DEVICES_PER_USER_MAX)
      throw new AwsError(
        'LimitExceeded',
        `Cannot exceed quota for MFADevicesPerUser: ${MFA_DEVICES_PER_USER_MAX}`,
        409,
      );
    if (!consecutiveCodes(device.seed, ctx.now, code1, code2))
      throw new AwsError('InvalidAuthenticationCode', 'Authentication code for device is not valid.', 403);
    ctx.state.enableMfaDevice(user, serial, ctx.now);
    return undefined;
  },
  ListMFADevices: (ctx) => {
    const user = targetUser(ctx);
    const { page, ...more } = paginate(ctx.params, ctx.state.mfaDevicesOf(user));
    return { MFADevices: page.map(mfaDeviceView), ...more };
  },
  DeactivateMFADevice: (ctx) => {
    const serial = serialParam(ctx);
    const user = targetUser(ctx);
    const device = ctx.account.mfaDevices.get(serial);
    if (device?.userName !== user.userName)
      throw noSuchEntity(`MFA Device with serial number ${serial} does not exist.`);
    // A virtual device goes back to the account unassigned; a hardware one leaves the account.
    if (!device.virtual) ctx.account.mfaDevices.delete(serial);
    delete device.userName;
    delete device.enableDate;
    return undefined;
  },
  DeleteVirtualMFADevice: (ctx) => {
    const serial = serialParam(ctx);
    ctx.authorize('iam:DeleteVirtualMFADevice', serial);
    const device = ctx.account.mfaDevices.get(serial);
    if (!device?.virtual) throw noVirtualDevice(serial);
    if (device.userName !== undefined)
      throw new AwsError('DeleteConflict', 'MFA Device is still in use.', 409);
    ctx.account.mfaDevices.delete(serial);
    return undefined;
  },
  ListVirtualMFADevices: (ctx) => {
    const status = ctx.params['AssignmentStatus'] ?? 'Any';
    ensureOneOf(status, 'AssignmentStatus', ['Assigned', 'Unassigned', 'Any']);
    const devices = [...ctx.account.mfaDevices.values()]
      .filter((d) => d.virtual)
      .filter((d) => status === 'Any' || (status === 'Assigned') === (d.userName !== undefined))
      .sort((a, b) => a.serialNumber.localeCompare(b.serialNumber));
    const { page, ...more } = paginate(ctx.params, devices);
    return {
      VirtualMFADevices: page.map((d) => {
        const user = d.userName === undefined ? undefined : ctx.account.users.get(d.userName);
        return {
          SerialNumber: d.serialNumber,
          User: user && userView(user, false),
          EnableDate: d.enableDate === undefined ? undefined : new Date(d.enableDate),
        };
      }),
      ...more,
    };
  },
};
