/** One URL path segment, percent-decoded strictly: what cannot be decoded (`%ZZ`, `%FF`) is a 400, not kept as typed. */
import { ValidationError } from '../domain/errors.js';

export function decodePathSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    const message = `invalid percent-encoding in ${JSON.stringify(seg)}`;
    throw new ValidationError([{ path: 'url', message }], message);
  }
}
