/**
 * One error hierarchy for the whole agent; http/errors.ts maps it to status codes
 * in a single table so no bad input can reach the 500 branch by accident.
 */
export interface Issue {
  path: string;
  message: string;
}

export abstract class JobpulseError extends Error {
  abstract readonly code: string;
}

export class ValidationError extends JobpulseError {
  readonly code = 'validation_failed';
  constructor(
    readonly issues: Issue[],
    message = `invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
  ) {
    super(message);
  }
}

export class MalformedBodyError extends JobpulseError {
  readonly code = 'malformed_body';
}

export class UnsupportedMediaTypeError extends JobpulseError {
  readonly code = 'unsupported_media_type';
}

export class PayloadTooLargeError extends JobpulseError {
  readonly code = 'payload_too_large';
}

export class TooManyJobsError extends JobpulseError {
  readonly code = 'too_many_jobs';
}

export class OverloadedError extends JobpulseError {
  readonly code = 'overloaded';
}

export class StoreUnavailableError extends JobpulseError {
  readonly code = 'store_unavailable';
}

export class NotFoundError extends JobpulseError {
  readonly code = 'not_found';
}

export class UnauthorizedError extends JobpulseError {
  readonly code = 'unauthorized';
}

export class ConfigError extends JobpulseError {
  readonly code = 'config_invalid';
  constructor(readonly issues: Issue[]) {
    super(`configuration error: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}
