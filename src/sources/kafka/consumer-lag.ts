/**
 * Consumer lag of one partition: how many messages sit after the group's position.
 * Pure; the source feeds it from two places (see kafka-source.ts):
 * - after every batch: the fetch's high watermark and the batch's last offset (exact as of
 *   that fetch, no extra request);
 * - every `kafka.lag_interval`: the brokers' high/low watermarks (ListOffsets) and the
 *   group's committed offsets (OffsetFetch), so a consumer with nothing to fetch (idle at
 *   the end of the topic, or stalled) still reports a current figure.
 */
export interface PartitionOffsets {
  /** High watermark: the offset the next produced message will get. */
  high: string | number;
  /** Log start offset: the oldest message still on the broker. */
  low: string | number;
  /** The group's committed offset (the next message to read), or -1 when it has none. */
  committed: string | number;
  /** The next offset after the last batch this member made durable, if it consumed any. */
  position?: number | undefined;
  /** Where a group without a committed offset starts (kafka.from_beginning). */
  fromBeginning: boolean;
}

export function partitionLag(p: PartitionOffsets): number {
  const high = Number(p.high);
  const low = Number(p.low);
  const next = Math.max(Number(p.committed), p.position ?? -1);
  // No position yet: a new group starts at the oldest message, or at the end (nothing owed).
  if (next < 0) return p.fromBeginning ? Math.max(0, high - low) : 0;
  // Below the log start (retention deleted them): the consumer resumes at the log start.
  return Math.max(0, high - Math.max(next, low));
}
