/**
 * A 32-bit FNV-1a hash of a run id: the key of the event log's per-run index. An index
 * on the 36-character run id cost more than the event insert itself (random inserts into
 * wide pages, each dirty page rewritten to the WAL at commit); integer keys pack ~4× more
 * entries per page. Queries still compare run_id, so collisions only cost a filtered row.
 */
export function runHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
