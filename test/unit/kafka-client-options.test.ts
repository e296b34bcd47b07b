import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/domain/errors.js';
import { createLogger } from '../../src/runtime/logger.js';
import { kafkajsOptions } from '../../src/sources/kafka/client-options.js';

const files: Record<string, string> = { '/ca.pem': 'CA PEM', '/client.pem': 'CERT PEM', '/client.key': 'KEY PEM' };
const readFile = (path: string): string => {
  const f = files[path];
  if (f === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return f;
};
const logger = createLogger({ level: 'silent', write: () => undefined });
const options = (kafka: Record<string, unknown>) => kafkajsOptions(parseConfig({ kafka: { brokers: ['b1:9093', 'b2:9093'], ...kafka } }), { readFile, logger });

describe('kafka config → kafkajs client options', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['plaintext, no auth (the default)', {}, { ssl: undefined, sasl: undefined }],
    ['TLS with the system CAs', { ssl: { enabled: true } }, { ssl: { rejectUnauthorized: true }, sasl: undefined }],
    ['TLS with a private CA', { ssl: { enabled: true, ca_file: '/ca.pem' } }, { ssl: { rejectUnauthorized: true, ca: ['CA PEM'] } }],
    [
      'mutual TLS',
      { ssl: { enabled: true, ca_file: '/ca.pem', cert_file: '/client.pem', key_file: '/client.key' } },
      { ssl: { rejectUnauthorized: true, ca: ['CA PEM'], cert: 'CERT PEM', key: 'KEY PEM' } },
    ],
    ['TLS accepting any server certificate', { ssl: { enabled: true, reject_unauthorized: false } }, { ssl: { rejectUnauthorized: false } }],
    ['SASL PLAIN over TLS', { ssl: { enabled: true }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }, { ssl: { rejectUnauthorized: true }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }],
    ['SASL SCRAM-SHA-256', { sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }, { ssl: undefined, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }],
    ['SASL SCRAM-SHA-512', { sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } }, { sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } }],
  ])('%s', (_why, kafka, expected) => {
    const out = options(kafka);
    expect(out).toMatchObject({ clientId: 'jobpulse', brokers: ['b1:9093', 'b2:9093'] });
    for (const [k, v] of Object.entries(expected)) expect(out[k as keyof typeof out], k).toEqual(v);
  });

  it('a certificate file that cannot be read is a config error naming its key', () => {
    let err: unknown;
    try {
      options({ ssl: { enabled: true, ca_file: '/ca.pem', cert_file: '/missing.pem', key_file: '/client.key' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'kafka.ssl.cert_file', message: expect.stringContaining("cannot read /missing.pem: ENOENT") }]);
  });
});
