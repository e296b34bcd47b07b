/**
 * Whether this consumer-group member is still in touch with the brokers. Pure; the source
 * feeds it the time of the last answer (a join, a heartbeat, a fetch, an offset commit).
 *
 * Why not just "joined": kafkajs reports a join, a crash and a disconnect, but a broker that
 * stops answering after the join (process hung, host gone, network cut) produces none of
 * them: its requests wait out their timeouts and are retried, for minutes or for good
 * (a cluster back on other addresses is never looked up again). /readyz said ok and
 * jobpulse_kafka_connected 1 through a 60 s outage. An idle member fetches every second and
 * heartbeats every session_timeout / 3, so silence longer than session_timeout (the time
 * after which the brokers themselves drop the member) means it is cut off.
 */
export interface MemberContact {
  joined: boolean;
  /** Unix ms of the last answer from the brokers (0: none yet). */
  lastContact: number;
  now: number;
  sessionTimeoutMs: number;
}

export type Liveness = { ok: true } | { ok: false; silentMs: number };

export function memberLiveness(m: MemberContact): Liveness {
  const silentMs = Math.max(0, m.now - m.lastContact);
  if (!m.joined) return { ok: false, silentMs };
  return silentMs <= m.sessionTimeoutMs ? { ok: true } : { ok: false, silentMs };
}
