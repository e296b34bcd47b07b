import { describe, expect, it } from 'vitest';
import { partitionLag, type PartitionOffsets } from '../../src/sources/kafka/consumer-lag.js';

describe('partitionLag', () => {
  it.each<[string, PartitionOffsets, number]>([
    ['caught up: committed at the high watermark', { high: '120', low: '0', committed: '120', fromBeginning: true }, 0],
    ['behind by what was produced since', { high: '150', low: '0', committed: '120', fromBeginning: true }, 30],
    ['a batch made durable after the last OffsetFetch counts', { high: '150', low: '0', committed: '120', position: 140, fromBeginning: true }, 10],
    ['committed offset newer than the local position wins (another member moved it)', { high: '150', low: '0', committed: '145', position: 140, fromBeginning: false }, 5],
    ['new group from the beginning: the whole log is owed', { high: '500', low: '200', committed: '-1', fromBeginning: true }, 300],
    ['new group from the end: nothing owed', { high: '500', low: '200', committed: '-1', fromBeginning: false }, 0],
    ['empty partition', { high: '0', low: '0', committed: '-1', fromBeginning: true }, 0],
    ['committed below the log start (retention deleted them): counted from the log start', { high: '500', low: '400', committed: '100', fromBeginning: true }, 100],
    ['never negative (high watermark read before a later commit)', { high: '100', low: '0', committed: '100', position: 110, fromBeginning: true }, 0],
    ['numbers are accepted as well as kafkajs strings', { high: 10, low: 0, committed: 4, fromBeginning: true }, 6],
  ])('%s', (_why, offsets, lag) => {
    expect(partitionLag(offsets)).toBe(lag);
  });
});
