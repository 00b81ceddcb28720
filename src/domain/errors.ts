/**
 * Base of the engine's errors: a message safe to log (ids only, never key material), a stable `code`, and whether
 * calling again later may succeed without anyone changing anything (`retryable`).
 */
export class RotationError extends Error {
  readonly retryable: boolean;
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
    opts: { retryable?: boolean } = {},
  ) {
    super(message);
    this.name = 'RotationError';
    this.retryable = opts.retryable === true;
  }
}

/** A state the engine will not resolve on its own (an unknown active key, a wrong user...). */
export class UnsafeStateError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'UnsafeState', details);
    this.name = 'UnsafeStateError';
  }
}

/** The new key, or Jenkins, failed a check; the old key stays active. A retry runs the checks again. */
export class VerificationError extends RotationError {
  constructor(
    message: string,
    readonly failures: string[],
    details: Record<string, unknown> = {},
  ) {
    super(message, 'VerificationFailed', details, { retryable: true });
    this.name = 'VerificationError';
  }
}

/** A caller's input was invalid; nothing was changed. `details.fields` names the offending fields. */
export class InputError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'InvalidInput', details);
    this.name = 'InputError';
  }
}

/**
 * Another invocation is working on the same key right now (Lambda delivers at least once, and Secrets Manager may
 * call a step again while the first call still runs). Nothing was changed by this call; calling again later
 * converges: by then the other invocation has finished, or its lease has run out and its work is taken over.
 */
export class ConcurrentRotationError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'RotationBusy', details, { retryable: true });
    this.name = 'ConcurrentRotationError';
  }
}

/** The rotation would destroy something an operator may still need (the rollback key); they must say so. */
export class ConfirmationRequiredError extends RotationError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, 'ConfirmationRequired', details);
    this.name = 'ConfirmationRequiredError';
  }
}

/** A message from any thrown value, never its `cause` chain or attached request data. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An AWS SDK service error's name (`LimitExceededException`, `InvalidParameterException`...), if it is one. */
export const awsErrorName = (err: unknown): string | undefined =>
  err instanceof Error && '$metadata' in err ? err.name : undefined;
