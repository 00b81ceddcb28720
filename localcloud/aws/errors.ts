/** An error answered in the wire shape of the service's protocol (see protocols.ts). */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

export const invalidClientTokenId = (): AwsError =>
  new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);

export const unrecognizedClient = (): AwsError =>
  new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);

export const validationError = (message: string): AwsError => new AwsError('ValidationError', message, 400);

export const noSuchEntity = (message: string): AwsError => new AwsError('NoSuchEntity', message, 404);
