/**
 * The opaque page cursor of run listings, shared by every Store adapter so a cursor
 * means the same thing whichever store answered: newest first by (created_at, run_id).
 */
export const encodeCursor = (createdAt: number, runId: string): string =>
  Buffer.from(`${createdAt}:${runId}`).toString('base64url');

export const decodeCursor = (c: string): { created_at: number; run_id: string } | undefined => {
  const s = Buffer.from(c, 'base64url').toString();
  const i = s.indexOf(':');
  const t = Number(s.slice(0, i));
  return i > 0 && Number.isFinite(t) ? { created_at: t, run_id: s.slice(i + 1) } : undefined;
};
