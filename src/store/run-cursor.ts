/**
 * The opaque page cursor of run listings, shared by every Store adapter so a cursor
 * means the same thing whichever store answered: newest first by (created_at, run_id).
 */
export const encodeCursor = (createdAt: number, runId: string): string =>
  Buffer.from(`${createdAt}:${runId}`).toString('base64url');

/**
 * The position a cursor names, or undefined when `encodeCursor` did not make it. Base64
 * decoding skips characters it does not know, so only a cursor that encodes back to itself
 * is one (callers answer anything else with 400 rather than the first page).
 */
export const decodeCursor = (c: string): { created_at: number; run_id: string } | undefined => {
  const s = Buffer.from(c, 'base64url').toString();
  const i = s.indexOf(':');
  const t = Number(s.slice(0, i));
  if (i <= 0 || !Number.isSafeInteger(t)) return undefined;
  const run_id = s.slice(i + 1);
  return encodeCursor(t, run_id) === c ? { created_at: t, run_id } : undefined;
};
