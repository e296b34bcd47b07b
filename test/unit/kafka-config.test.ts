import { describe, expect, it } from 'vitest';
import { applyEnv } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/schema.js';
import { expectConfigIssue } from '../support/config-issues.js';

describe('kafka config', () => {
  it('is off by default, with the operators’ topic and group', () => {
    const k = parseConfig({}).kafka;
    expect(k).toMatchObject({ brokers: [], topic: 'transformation-job-status', group_id: 'transformation-engine-job-monitor', from_beginning: false });
    expect(k.sasl).toEqual({ mechanism: 'none', username: '', password: '' });
    expect(k.ssl).toEqual({ enabled: false, reject_unauthorized: true });
    expect(k.lag_interval).toBe(15_000);
    expect(k.dead_letter_topic).toBeUndefined();
  });

  it('takes brokers and the SASL password from the environment', () => {
    const k = parseConfig(
      applyEnv({}, { JOBPULSE_KAFKA__BROKERS: 'a:9092,b:9092', JOBPULSE_KAFKA__SASL__MECHANISM: 'scram-sha-512', JOBPULSE_KAFKA__SASL__USERNAME: 'u', JOBPULSE_KAFKA__SASL__PASSWORD: 'p' }),
    ).kafka;
    expect(k.brokers).toEqual(['a:9092', 'b:9092']);
    expect(k.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  it.each([
    [{ kafka: { sasl: { mechanism: 'kerberos' } } }, 'kafka.sasl.mechanism', 'expected one of none, plain, scram-sha-256, scram-sha-512'],
    [{ kafka: { sasl: { mechanism: 'plain' } } }, 'kafka.sasl.username', 'is required with kafka.sasl.mechanism plain'],
    [{ kafka: { sasl: { mechanism: 'scram-sha-256', username: 'u' } } }, 'kafka.sasl.password', 'is required with kafka.sasl.mechanism scram-sha-256'],
    [{ kafka: { sasl: { username: 'u', password: 'p' } } }, 'kafka.sasl.username', 'is set but kafka.sasl.mechanism is none'],
    [{ kafka: { sasl: { password: 'p' } } }, 'kafka.sasl.password', 'is set but kafka.sasl.mechanism is none'],
    [{ kafka: { sasl: { mechanism: 'scram-sha-1', username: 'u', password: 'p' } } }, 'kafka.sasl.mechanism', 'expected one of'],
    [{ kafka: { ssl: { ca_file: '/ca.pem' } } }, 'kafka.ssl.ca_file', 'is set but kafka.ssl.enabled is false'],
    [{ kafka: { ssl: { enabled: true, cert_file: '/c.pem' } } }, 'kafka.ssl.key_file', 'is required with kafka.ssl.cert_file'],
    [{ kafka: { ssl: { enabled: true, key_file: '/c.key' } } }, 'kafka.ssl.cert_file', 'is required with kafka.ssl.key_file'],
    [{ kafka: { ssl: { enabled: 'yes' } } }, 'kafka.ssl.enabled', 'expected'],
    [{ kafka: { lag_interval: '10ms' } }, 'kafka.lag_interval', 'expected a duration'],
    [{ kafka: { dead_letter_topic: 'transformation-job-status' } }, 'kafka.dead_letter_topic', 'must differ from kafka.topic'],
    [{ kafka: { max_message_bytes: 0 } }, 'kafka.max_message_bytes', 'expected an integer from 1'],
    [{ kafka: { retry: { initial: 'soon' } } }, 'kafka.retry.initial', 'expected a duration'],
    [{ kafka: { brokrs: ['a:1'] } }, 'kafka.brokrs', 'unknown key'],
  ])('names the key and what was expected: %j', (raw, path, message) => {
    expectConfigIssue(raw, path, message);
  });
});
