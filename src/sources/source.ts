/**
 * What every event source looks like to the agent: it maps its input to EventDrafts
 * and calls ingest; it never touches the store, the state or the metrics directly.
 */
export interface SourceHealth {
  ok: boolean;
  detail?: string;
}

export interface Source {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking input; resolves when everything it handed to ingest has settled. Idempotent. */
  stop(): Promise<void>;
  health(): SourceHealth;
}
