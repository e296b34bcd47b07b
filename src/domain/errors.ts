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

/**
 * A write made on behalf of a lease (the singleton Spark poller, the detectors) carried a
 * fencing token older than the newest one Redis granted for that lease: another replica
 * has become leader since, and this replica's results are stale. Nothing was written.
 */
export class FencedWriteError extends JobpulseError {
  readonly code = 'fenced_out';
  constructor(
    readonly lease: string,
    readonly token: number | undefined,
    readonly current: number | undefined,
  ) {
    super(
      token === undefined
        ? `write refused: lease ${lease} is not held by this replica`
        : `write refused: fencing token ${token} of lease ${lease} is older than the current one (${current ?? 'unknown'}); another replica leads`,
    );
  }
}

/** A ping named (with `rid`) a run of another job: run ids are global. */
export class RunOfAnotherJobError extends JobpulseError {
  readonly code = 'run_of_another_job';
}

export class NotFoundError extends JobpulseError {
  readonly code = 'not_found';
}

/**
 * A job another replica is deleting (Redis: its fence is set). Answered 404 as gone, but it is
 * not gone yet, and stays if that deletion is cut short (its replica killed): a replica must
 * not forget it on this answer.
 */
export class JobBeingDeletedError extends NotFoundError {}

/**
 * A job deletion that stopped part-way (Redis: its fence expired under it, the replica having
 * stalled past the ttl, and a commit or another deletion may have come since). The job is left
 * with part of its history; deleting it again finishes it. Not an internal error: it was a 500.
 */
export class DeletionCutShortError extends JobpulseError {
  readonly code = 'deletion_cut_short';
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
