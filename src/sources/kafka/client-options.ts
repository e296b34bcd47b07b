/**
 * Config → kafkajs client options: brokers, client id, retry, logging, TLS and SASL.
 * Pure apart from reading the certificate files through the injected `readFile`, so the
 * mapping is tested with a table (test/unit/kafka-client-options.test.ts).
 *
 * - `kafka.ssl.enabled` turns TLS on (kafkajs `ssl`, passed to `tls.connect`): `ca_file`
 *   replaces the system CAs, `cert_file` + `key_file` give a client certificate (mutual
 *   TLS), `reject_unauthorized: false` accepts any server certificate (testing only).
 * - `kafka.sasl.mechanism` plain / scram-sha-256 / scram-sha-512 → kafkajs `sasl` with the
 *   username and password. SASL without TLS (SASL_PLAINTEXT) is allowed, as brokers allow it,
 *   but PLAIN then sends the password in clear: the source logs a warning.
 * A certificate file that cannot be read is a ConfigError naming its key, at start-up.
 */
import type { KafkaConfig as KafkajsConfig, SASLOptions } from 'kafkajs';
import { logLevel } from 'kafkajs';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../domain/errors.js';
import type { Logger } from '../../runtime/logger.js';

export interface ClientOptionsDeps {
  readFile: (path: string) => string;
  logger: Logger;
}

export function kafkajsOptions(config: Config, deps: ClientOptionsDeps): KafkajsConfig {
  const k = config.kafka;
  const out: KafkajsConfig = {
    clientId: k.client_id,
    brokers: k.brokers,
    retry: { initialRetryTime: Math.min(k.retry.initial, 300), maxRetryTime: k.retry.max, retries: 3 },
    // kafkajs reports every connection failure at error level; the source logs the state
    // changes that matter, so kafkajs' own lines go to our logger at debug.
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, timestamp: _t, logger: _l, ...extra } = entry.log;
      deps.logger.debug(`kafkajs: ${message}`, { namespace: entry.namespace, ...extra });
    },
  };
  if (k.ssl.enabled) {
    const read = (key: 'ca_file' | 'cert_file' | 'key_file'): string | undefined => {
      const file = k.ssl[key];
      if (file === undefined) return undefined;
      try {
        return deps.readFile(file);
      } catch (err) {
        throw new ConfigError([{ path: `kafka.ssl.${key}`, message: `cannot read ${file}: ${(err as Error).message}` }]);
      }
    };
    const ca = read('ca_file');
    const cert = read('cert_file');
    const key = read('key_file');
    out.ssl = {
      rejectUnauthorized: k.ssl.reject_unauthorized,
      ...(ca !== undefined ? { ca: [ca] } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
    };
  }
  if (k.sasl.mechanism !== 'none') {
    out.sasl = { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password } as SASLOptions;
  }
  return out;
}
