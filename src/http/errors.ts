/**
 * One mapping from the domain's errors to HTTP, one JSON shape for every error:
 * `{ error, code, issues?, request_id }`. Anything not in the table is a bug and the
 * only path to a 500.
 */
import type { Context } from 'hono';
import {
  ConfigError,
  DeletionCutShortError,
  FencedWriteError,
  JobpulseError,
  MalformedBodyError,
  NotFoundError,
  OverloadedError,
  RunOfAnotherJobError,
  PayloadTooLargeError,
  StoreUnavailableError,
  TooManyJobsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../domain/errors.js';
import type { Logger } from '../runtime/logger.js';

type ErrorClass = abstract new (...args: never[]) => JobpulseError;

export const STATUS_BY_ERROR: readonly [ErrorClass, 400 | 401 | 404 | 409 | 413 | 415 | 429 | 503][] = [
  [ValidationError, 400],
  [MalformedBodyError, 400],
  [ConfigError, 400],
  [UnauthorizedError, 401],
  [NotFoundError, 404],
  // Internal to singleton sources; mapped so it can never turn into a 500.
  [FencedWriteError, 409],
  [RunOfAnotherJobError, 409],
  [DeletionCutShortError, 409],
  [PayloadTooLargeError, 413],
  [UnsupportedMediaTypeError, 415],
  [TooManyJobsError, 429],
  [OverloadedError, 503],
  [StoreUnavailableError, 503],
];

export const statusOf = (err: unknown): number => {
  for (const [cls, status] of STATUS_BY_ERROR) if (err instanceof cls) return status;
  return 500;
};

/** Status, JSON body and extra headers for an error: shared by Hono's onError and the node:http fast path. */
export function describeError(err: unknown, request_id: string, where: { method: string; path: string }, logger: Logger): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  const status = statusOf(err);
  if (status === 500) {
    logger.error('unhandled error', { err, request_id, path: where.path, method: where.method });
    return { status, body: { error: 'internal error', code: 'internal', request_id }, headers: {} };
  }
  const e = err as JobpulseError;
  const body: Record<string, unknown> = { error: e.message, code: e.code, request_id };
  if (e instanceof ValidationError || e instanceof ConfigError) body.issues = e.issues;
  const headers: Record<string, string> = {};
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="jobpulse"';
  if (status === 503 || status === 429) headers['Retry-After'] = '1';
  // The rest of an oversized body is never read: closing lets the client see the 413 at once.
  if (status === 413) headers.Connection = 'close';
  logger.info('request refused', { request_id, path: where.path, method: where.method, status, code: e.code, error: e.message });
  return { status, body, headers };
}

export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  const request_id = (c.get('requestId' as never) as string | undefined) ?? '';
  const { status, body, headers } = describeError(err, request_id, { method: c.req.method, path: c.req.path }, logger);
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  return c.json(body, status as 400);
}
