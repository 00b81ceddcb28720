/** Base of the engine's errors: a message safe to log (ids only, never key material). */
export class RotationError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RotationError';
  }
}

/** A state the engine will not resolve on its own (an unknown active key, a wrong user...). */
export class UnsafeStateError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'UnsafeState', details);
    this.name = 'UnsafeStateError';
  }
}

/** The new key, or Jenkins, failed a check; the old key stays active. */
export class VerificationError extends RotationError {
  constructor(
    message: string,
    readonly failures: string[],
    details: Record<string, unknown> = {},
  ) {
    super(message, 'VerificationFailed', details);
    this.name = 'VerificationError';
  }
}

/** A caller's input was invalid; nothing was changed. */
export class InputError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'InvalidInput', details);
    this.name = 'InputError';
  }
}

/** A message from any thrown value, never its `cause` chain or attached request data. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
