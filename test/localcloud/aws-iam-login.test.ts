import {
  CreateLoginProfileCommand,
  CreateVirtualMFADeviceCommand,
  DeactivateMFADeviceCommand,
  DeleteLoginProfileCommand,
  DeleteUserCommand,
  DeleteVirtualMFADeviceCommand,
  EnableMFADeviceCommand,
  GenerateCredentialReportCommand,
  GetCredentialReportCommand,
  GetLoginProfileCommand,
  IAMClient,
  ListMFADevicesCommand,
  ListVirtualMFADevicesCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totp } from '../../localcloud/aws/iam-login';
import type { AwsEmulator } from '../../localcloud/aws/server';
import { clientConfig, startAws } from '../support/aws';

const ACCOUNT = '111122223333';
const DAY = 86_400_000;
const PASSWORD = 'Synthetic-Passw0rd!';

let aws: AwsEmulator;
let iam: IAMClient;

beforeAll(async () => {
  aws = await startAws();
  iam = new IAMClient(clientConfig(aws.url, aws.admin));
});
afterAll(() => aws.close());

/** A new virtual MFA device: its serial number and base32 seed, as an authenticator app would get them. */
async function newDevice(name: string) {
  const { VirtualMFADevice } = await iam.send(
    new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: name }),
  );
  return {
    serial: VirtualMFADevice!.SerialNumber!,
    seed: Buffer.from(VirtualMFADevice!.Base32StringSeed!).toString('ascii'),
  };
}

/** Two consecutive codes of the device, as a person reads them off the app (on the emulated clock). */
function codes(seed: string) {
  const now = aws.state.now();
  return { AuthenticationCode1: totp(seed, now - 30_000), AuthenticationCode2: totp(seed, now) };
}

describe('TOTP', () => {
  it('matches the RFC 6238 SHA-1 test vectors', () => {
    // The RFC's key is the ASCII "12345678901234567890"; its base32 form:
    const seed = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(totp(seed, 59_000, 8)).toBe('94287082');
    expect(totp(seed, 1_111_111_109_000, 8)).toBe('07081804');
    expect(totp(seed, 2_000_000_000_000, 8)).toBe('69279037');
    expect(totp(seed, 59_000)).toBe('287082');
  });
});

describe('login profiles', () => {
  it('are created, read and deleted; GetLoginProfile is NoSuchEntity without one', async () => {
    aws.state.createUser(ACCOUNT, 'console-user');
    await expect(iam.send(new GetLoginProfileCommand({ UserName: 'console-user' }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: 'Login Profile for User console-user cannot be found.',
      $metadata: { httpStatusCode: 404 },
    });
    const created = await iam.send(
      new CreateLoginProfileCommand({
        UserName: 'console-user',
        Password: PASSWORD,
        PasswordResetRequired: true,
      }),
    );
    expect(created.LoginProfile).toMatchObject({ UserName: 'console-user', PasswordResetRequired: true });
    const got = await iam.send(new GetLoginProfileCommand({ UserName: 'console-user' }));
    expect(got.LoginProfile).toEqual(created.LoginProfile);
    await expect(
      iam.send(new CreateLoginProfileCommand({ UserName: 'console-user', Password: PASSWORD })),
    ).rejects.toMatchObject({
      name: 'EntityAlreadyExistsException',
      message: 'Login Profile for user console-user already exists.',
    });
    await expect(iam.send(new DeleteUserCommand({ UserName: 'console-user' }))).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete entity, must delete login profile first.',
    });
    await iam.send(new DeleteLoginProfileCommand({ UserName: 'console-user' }));
    await expect(iam.send(new GetLoginProfileCommand({ UserName: 'console-user' }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    // The password is not kept anywhere in the emulator's state.
    expect(JSON.stringify(await (await fetch(`${aws.url}/_localcloud/state`)).json())).not.toContain(
      PASSWORD,
    );
  });

  it('refuses a password against the default policy without echoing it', async () => {
    aws.state.createUser(ACCOUNT, 'weak-password');
    for (const [password, message] of [
      ['Sh0rt!', 'Password should have a minimum length of 8'],
      ['alllowercaseletters', /at least three of/],
    ] as const) {
      const err = await iam
        .send(new CreateLoginProfileCommand({ UserName: 'weak-password', Password: password }))
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(err).toMatchObject({ name: 'PasswordPolicyViolationException', message });
      expect(err?.message).not.toContain(password);
    }
    expect(aws.state.account(ACCOUNT).users.get('weak-password')?.loginProfile).toBeUndefined();
  });
});

describe('MFA devices', () => {
  it('a virtual device is enabled with two consecutive codes, listed, deactivated and deleted', async () => {
    aws.state.createUser(ACCOUNT, 'mfa-user');
    const device = await newDevice('mfa-user');
    expect(device.serial).toBe(`arn:aws:iam::${ACCOUNT}:mfa/mfa-user`);
    expect(device.seed).toMatch(/^[A-Z2-7]{64}$/);
    expect((await iam.send(new ListMFADevicesCommand({ UserName: 'mfa-user' }))).MFADevices).toEqual([]);

    const wrong = codes(device.seed);
    await expect(
      iam.send(
        new EnableMFADeviceCommand({
          UserName: 'mfa-user',
          SerialNumber: device.serial,
          AuthenticationCode1: wrong.AuthenticationCode2,
          AuthenticationCode2: wrong.AuthenticationCode1,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidAuthenticationCodeException',
      message: 'Authentication code for device is not valid.',
      $metadata: { httpStatusCode: 403 },
    });
    await iam.send(
      new EnableMFADeviceCommand({
        UserName: 'mfa-user',
        SerialNumber: device.serial,
        ...codes(device.seed),
      }),
    );
    const { MFADevices } = await iam.send(new ListMFADevicesCommand({ UserName: 'mfa-user' }));
    expect(MFADevices).toEqual([
      { UserName: 'mfa-user', SerialNumber: device.serial, EnableDate: expect.any(Date) as Date },
    ]);
    const assigned = await iam.send(new ListVirtualMFADevicesCommand({ AssignmentStatus: 'Assigned' }));
    expect(assigned.VirtualMFADevices).toMatchObject([
      { SerialNumber: device.serial, User: { UserName: 'mfa-user' } },
    ]);

    aws.state.createUser(ACCOUNT, 'second-user');
    await expect(
      iam.send(
        new EnableMFADeviceCommand({
          UserName: 'second-user',
          SerialNumber: device.serial,
          ...codes(device.seed),
        }),
      ),
    ).rejects.toMatchObject({
      name: 'EntityAlreadyExistsException',
      message: 'MFA Device is already in use.',
    });
    await expect(
      iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: device.serial })),
    ).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'MFA Device is still in use.',
    });
    await expect(iam.send(new DeleteUserCommand({ UserName: 'mfa-user' }))).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete entity, must delete MFA device first.',
    });

    await iam.send(new DeactivateMFADeviceCommand({ UserName: 'mfa-user', SerialNumber: device.serial }));
    expect((await iam.send(new ListMFADevicesCommand({ UserName: 'mfa-user' }))).MFADevices).toEqual([]);
    const unassigned = await iam.send(new ListVirtualMFADevicesCommand({ AssignmentStatus: 'Unassigned' }));
    expect(unassigned.VirtualMFADevices?.map((d) => d.SerialNumber)).toContain(device.serial);
    await iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: device.serial }));
    await expect(
      iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: device.serial })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `VirtualMFADevice with serial number ${device.serial} doesn't exist.`,
    });
    await iam.send(new DeleteUserCommand({ UserName: 'mfa-user' }));
  });

  it('refuses a duplicate device name, an unknown device and malformed codes', async () => {
    aws.state.createUser(ACCOUNT, 'mfa-errors');
    await newDevice('dup-device');
    await expect(newDevice('dup-device')).rejects.toMatchObject({
      name: 'EntityAlreadyExistsException',
      message: 'MFADevice entity at the same path and name already exists.',
    });
    const ghost = `arn:aws:iam::${ACCOUNT}:mfa/ghost`;
    await expect(
      iam.send(
        new EnableMFADeviceCommand({
          UserName: 'mfa-errors',
          SerialNumber: ghost,
          AuthenticationCode1: '123456',
          AuthenticationCode2: '234567',
        }),
      ),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `VirtualMFADevice with serial number ${ghost} doesn't exist.`,
    });
    await expect(
      iam.send(
        new EnableMFADeviceCommand({
          UserName: 'mfa-errors',
          SerialNumber: ghost,
          AuthenticationCode1: '12345',
          AuthenticationCode2: '234567',
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining("'authenticationCode1'") as unknown,
    });
  });
});

describe('the credential report', () => {
  it('follows login profiles and MFA devices', async () => {
    const own = await startAws();
    const client = new IAMClient(clientConfig(own.url, own.admin));
    try {
      const now = own.state.now();
      const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
      const human = own.state.createUser(own.admin.accountId, 'human', { createDate: now - 30 * DAY });
      human.loginProfile = { createDate: now - 20 * DAY, passwordResetRequired: false };
      human.passwordLastUsed = now - 2 * DAY;
      own.state.enableMfaDevice(human, 'GAHT12345678', now - 10 * DAY);
      const fresh = own.state.createUser(own.admin.accountId, 'fresh-password');
      fresh.loginProfile = { createDate: now - DAY, passwordResetRequired: true };
      own.state.createUser(own.admin.accountId, 'machine');

      await client.send(new GenerateCredentialReportCommand({}));
      const out = await client.send(new GetCredentialReportCommand({}));
      const [header, ...lines] = Buffer.from(out.Content!).toString('utf8').split('\n');
      const rows = lines.map((l): Record<string, string> =>
        Object.fromEntries(l.split(',').map((v, i) => [header!.split(',')[i] ?? '', v])),
      );
      const columns = (user: string) => {
        const r = rows.find((x) => x['user'] === user)!;
        return [
          r['password_enabled'],
          r['password_last_used'],
          r['password_last_changed'],
          r['password_next_rotation'],
          r['mfa_active'],
        ];
      };
      expect(columns('human')).toEqual(['true', time(now - 2 * DAY), time(now - 20 * DAY), 'N/A', 'true']);
      expect(columns('fresh-password')).toEqual(['true', 'no_information', time(now - DAY), 'N/A', 'false']);
      expect(columns('machine')).toEqual(['false', 'N/A', 'N/A', 'N/A', 'false']);
    } finally {
      client.destroy();
      await own.close();
    }
  });
});
