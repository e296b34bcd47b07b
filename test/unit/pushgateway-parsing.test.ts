import { describe, expect, it } from 'vitest';
import { compareCodePoints, goFloat } from '../../src/pushgateway/group-exposition.js';
import { GroupRegistry, InconsistentPushError } from '../../src/pushgateway/group-registry.js';
import { parseGroupingPath } from '../../src/pushgateway/grouping-path.js';
import { deriveEvents, jobNameOf } from '../../src/pushgateway/lifecycle-bridge.js';
import { groupKey, type Group } from '../../src/pushgateway/model.js';
import { encodeFamilies, encodeFamiliesGeneric, parseProtobufDelimited } from '../../src/pushgateway/parse-protobuf.js';
import { goUint64, parseText, TimestampError } from '../../src/pushgateway/parse-text.js';

describe('grouping path', () => {
  it.each([
    ['/metrics/job/j', { job: 'j' }],
    ['/metrics/job/j/instance/i', { job: 'j', instance: 'i' }],
    ['/metrics/job@base64/L3Zhci90bXA', { job: '/var/tmp' }],
    ['/metrics/job@base64/L3Zhci90bXA=', { job: '/var/tmp' }],
    ['/metrics/job/j/path@base64/=', { job: 'j', path: '' }],
    ['/metrics/job/j/path/a%2Fb', { job: 'j', path: 'a/b' }],
    ['/metrics/job/j/a/1/a/2', { job: 'j', a: '2' }],
  ])('%s → %j', (path, labels) => expect(parseGroupingPath(path)).toEqual(labels));

  it.each([
    ['/metrics/job/j/foo', /odd number of components/],
    ['/metrics/job/j/0foo/x', /improper label name/],
    ['/metrics/job@base64/=', /job name is required/],
    ['/metrics/job/j/x@base64/!!', /invalid base64/],
    ['/metrics/job/%E0%A4%A', /invalid percent-encoding/],
    ['/metrics/job/%FF', /invalid percent-encoding/],
    // 0xff once decoded: the Pushgateway refuses it in its consistency check ("not utf8").
    ['/metrics/job/j/x@base64/_w', /is not valid UTF-8 once base64-decoded/],
  ])('%s is refused', (path, why) => expect(() => parseGroupingPath(path)).toThrow(why));
});

describe('text format parser', () => {
  it('folds histogram and summary samples into their families', () => {
    const f = parseText('# HELP h Help.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\nu{a="x\\"y\\\\z\\n"} -Inf\n');
    expect(f).toEqual([
      { name: 'h', type: 'histogram', help: 'Help.', metrics: [{ labels: {}, buckets: [[1, 1], [Infinity, 2]], sum: 3, count: 2 }] },
      { name: 's', type: 'summary', metrics: [{ labels: {}, quantiles: [[0.5, 1]], sum: 2, count: 3 }] },
      { name: 'u', type: 'untyped', metrics: [{ labels: { a: 'x"y\\z\n' }, value: -Infinity }] },
    ]);
  });

  it.each([
    ['d{ 1\n', /invalid label name/],
    ['garbage here\n', /expected float/],
    ['# TYPE a counter\n# TYPE a gauge\na 1\n', /second TYPE/],
    ['a{x="1",x="2"} 1\n', /duplicate label names/],
    ['a{x="1} 1\n', /unescaped new-line/],
    ['a{x="1} 1', /unexpected end of input stream/],
    ['# TYPE a nonsense\na 1\n', /unknown metric type "nonsense"/],
    ['# TYPE a gauge \na 1\n', /unknown metric type "gauge "/],
    ['a{__name__="b"} 1\n', /label name "__name__" is reserved/],
    ['# HELP a bad \\t escape\na 1\n', /invalid escape sequence '\\t'/],
    ['# TYPE s summary\ns_sum{quantile="x"} 1\n', /expected float as value for 'quantile' label, got "x"/],
    ['a 0x10\n', /expected float as value, got "0x10"/],
    ['a 1e400\n', /expected float as value, got "1e400"/],
    ['a +NaN\n', /expected float/],
    ['a 1', /line 1: unexpected end of input stream/],
    ['a 1\n# no newline', /line 2: unexpected end of input stream/],
  ])('refuses %j', (text, why) => expect(() => parseText(text)).toThrow(why));

  it.each([
    // [body, value]: only blanks and tabs separate, lines end in \n alone, blank lines anywhere
    ['a \t 1\n', 1],
    ['a\t2\n', 2],
    ['  a 3\n', 3],
    ['\n  \t\n\na 5\n\n  ', 5],
    ['a{}6\n', 6],
    ['a {} 7\n', 7],
    ['a{ } 8\n', 8],
  ])('reads the value of %j', (text, value) => expect(parseText(text)).toEqual([{ name: 'a', type: 'untyped', metrics: [{ labels: {}, value }] }]));

  it.each([
    ['a \n', /expected float as value, got ""/],
    ['a 1 \n', /expected integer as timestamp, got ""/],
    ['a 1 2 3\n', /spurious string after timestamp: " 3"/],
    ['a 1 2 \n', /spurious string after timestamp: " "/],
    ['a 3\r\n', /expected float as value, got "3\\r"/],
    ['a 4\u000b\n', /expected float as value/],
    ['\u00a0\na 5\n', /invalid metric name/],
    ['a 1 x\n', /expected integer as timestamp, got "x"/],
    ['a 1 9223372036854775808\n', /expected integer as timestamp/],
  ])('refuses the sample %j', (text, why) => expect(() => parseText(text)).toThrow(why));

  it('signals timestamps separately (the Pushgateway answers them as inconsistent), after a clean parse only', () => {
    expect(() => parseText('a 1 1234\n')).toThrow(TimestampError);
    expect(() => parseText('a 1 -1234\nb 2 +5\n')).toThrow(TimestampError);
    expect(() => parseText('a 1 1234\nb{ 2\n')).toThrow(/line 2: invalid label name/);
  });

  it('reads HELP and TYPE as the Go parser: keyword right after #, case-insensitive type, empty HELP unset, x_sum names its summary', () => {
    expect(parseText('#HELP a hi\n# TYPE a GAUGE\na 1\n# HELP b\n# HELP c \nb 1\nc 1\n# TYPE s summary\n# HELP s_sum on s\ns_sum 1\n')).toEqual([
      { name: 'a', type: 'gauge', help: 'hi', metrics: [{ labels: {}, value: 1 }] },
      // `# HELP c ` made the family (Go's order of creation); `# HELP b` did not.
      { name: 'c', type: 'untyped', metrics: [{ labels: {}, value: 1 }] },
      { name: 'b', type: 'untyped', metrics: [{ labels: {}, value: 1 }] },
      { name: 's', type: 'summary', help: 'on s', metrics: [{ labels: {}, quantiles: [], sum: 1 }] },
    ]);
  });

  it('takes le and quantile off every sample of a histogram or summary, drops NaN bounds, counts through uint64', () => {
    const f = parseText('# TYPE h histogram\nh_bucket{le="1",k="v"} 1.5\nh_bucket{le="NaN",k="v"} 9\nh_sum{le="1",k="v"} 2\nh_count{k="v",le="2"} -2.5\nh 4\n# TYPE s summary\ns{quantile="NaN"} 3\ns_count NaN\n');
    expect(f).toEqual([
      {
        name: 'h',
        type: 'histogram',
        metrics: [
          { labels: { k: 'v' }, buckets: [[1, 1]], sum: 2, count: 18446744073709552000 },
          { labels: {}, buckets: [] },
        ],
      },
      { name: 's', type: 'summary', metrics: [{ labels: {}, quantiles: [], count: 2 ** 63 }] },
    ]);
  });
});

describe('Go uint64 conversion of counts', () => {
  it.each([
    [2.7, 2],
    [0, 0],
    [-0.5, 0],
    [-1, 18446744073709552000],
    [-1e18, 17446744073709552000],
    [1e19, 1e19],
    [2e19, 2 ** 63],
    [NaN, 2 ** 63],
    [Infinity, 2 ** 63],
    [-Infinity, 2 ** 63],
  ])('%d → %d (as the real Pushgateway exposes it)', (v, out) => expect(goUint64(v)).toBe(out));
});

describe('protobuf storage encoding', () => {
  it('round-trips every type, NaN and ±Inf included', () => {
    const fams = parseText('# TYPE c counter\nc 1\ng NaN\n# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum +Inf\nh_count 2\n# TYPE s summary\ns{quantile="0.9",k="v"} -Inf\ns_sum{k="v"} 1\ns_count{k="v"} 1\n');
    expect(parseProtobufDelimited(encodeFamilies(fams))).toEqual(fams);
  });
});

describe('Go float formatting', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [0.5, '0.5'],
    [123456, '123456'],
    [1234567, '1.234567e+06'],
    [1.7e9, '1.7e+09'],
    [0.0001, '0.0001'],
    [0.000012, '1.2e-05'],
    [-2.5, '-2.5'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ])('%d → %s', (v, s) => expect(goFloat(v)).toBe(s));
});

describe('incremental consistency checks', () => {
  const fam = (name: string, type: 'counter' | 'gauge', labels: Record<string, string> = {}) => ({ name, type, metrics: [{ labels, value: 1 }] });
  const push = (r: GroupRegistry, labels: Record<string, string>, families: ReturnType<typeof fam>[], replaceAll = true) => {
    const { group } = r.prepare({ key: groupKey(labels), labels, families, replaceAll, now: 1 });
    r.commit(group);
    return group;
  };

  it('refuses suffix collisions with summaries and histograms in either order, frees the name when the holder changes', () => {
    const r = new GroupRegistry();
    const summary = { name: 's', type: 'summary' as const, metrics: [{ labels: {}, quantiles: [[0.5, 1]] as [number, number][], sum: 1, count: 1 }] };
    const histogram = { name: 'h', type: 'histogram' as const, metrics: [{ labels: {}, buckets: [[Infinity, 1]] as [number, number][], sum: 1, count: 1 }] };
    push(r, { job: 'a' }, [summary as never]);
    expect(() => push(r, { job: 'b' }, [fam('s_count', 'gauge')])).toThrow(/collides with previously collected summary named "s"/);
    expect(() => push(r, { job: 'b' }, [fam('s_sum', 'gauge')])).toThrow(InconsistentPushError);
    push(r, { job: 'b' }, [fam('s_bucket', 'gauge')]); // allowed next to a summary, as in client_golang
    push(r, { job: 'c' }, [fam('h_bucket', 'gauge')]);
    expect(() => push(r, { job: 'd' }, [histogram as never])).toThrow(/histogram named "h" collides with previously collected metric named "h_bucket"/);
    push(r, { job: 'c' }, [fam('other', 'gauge')]); // the holder of h_bucket replaces its group
    push(r, { job: 'd' }, [histogram as never]);
    expect(() => push(r, { job: 'd' }, [fam('h_count', 'gauge')], false)).toThrow(InconsistentPushError); // POST into the histogram's own group
  });

  it('refuses a second type for a name while another group has it, allows it once that group is gone', () => {
    const r = new GroupRegistry();
    push(r, { job: 'a' }, [fam('m', 'counter')]);
    expect(() => push(r, { job: 'b' }, [fam('m', 'gauge')])).toThrow(InconsistentPushError);
    push(r, { job: 'a' }, [fam('m', 'gauge')]); // the only holder changes its own type
    r.delete(groupKey({ job: 'a' }));
    push(r, { job: 'b' }, [fam('m', 'counter')]);
  });

  it('counts prepared, uncommitted pushes against each other: concurrent pushes cannot give a name two types or a series two groups', () => {
    const r = new GroupRegistry();
    const prep = (labels: Record<string, string>, families: ReturnType<typeof fam>[]) => r.prepare({ key: groupKey(labels), labels, families, replaceAll: true, now: 1 }).group;
    const a = prep({ job: 'a' }, [fam('m', 'gauge'), fam('s', 'gauge', { x: '1' })]);
    // While a's write is under way: b may not make m a counter, nor expose a's new series.
    expect(() => prep({ job: 'b' }, [fam('m', 'counter')])).toThrow(/is not a GAUGE/);
    expect(() => prep({ job: 'a', x: '1' }, [fam('s', 'gauge')])).toThrow(/already exposed by another group/);
    expect(() => prep({ job: 'b' }, [fam('m_count', 'gauge'), { name: 'm', type: 'summary', metrics: [{ labels: {}, quantiles: [], sum: 1, count: 1 }] } as never])).toThrow(InconsistentPushError);
    const c = prep({ job: 'c' }, [fam('m', 'gauge')]); // the same type is fine
    r.commit(a);
    r.commit(c);
    expect(() => push(r, { job: 'b' }, [fam('m', 'counter')])).toThrow(/is not a GAUGE/);
    // An aborted change (its write failed) frees what it reserved.
    const d = prep({ job: 'd' }, [fam('n', 'counter')]);
    expect(() => prep({ job: 'e' }, [fam('n', 'gauge')])).toThrow(InconsistentPushError);
    r.abort(d);
    push(r, { job: 'e' }, [fam('n', 'gauge')]);
    // A re-push of the same families reserves nothing: another group may still take the same type.
    const again = prep({ job: 'e' }, [fam('n', 'gauge')]);
    push(r, { job: 'f' }, [fam('n', 'gauge')]);
    r.commit(again);
  });

  it('refuses a series another group already exposes', () => {
    const r = new GroupRegistry();
    push(r, { job: 'a' }, [fam('m', 'gauge', { x: '1' })]);
    expect(() => push(r, { job: 'a', x: '1' }, [fam('m', 'gauge')])).toThrow(/already exposed by another group/);
  });

  it('a re-push keeps its series identities; changed labels are checked again against other groups', () => {
    const r = new GroupRegistry();
    const first = push(r, { job: 'a' }, [fam('m', 'gauge', { x: '1' }), fam('n', 'gauge')]);
    const again = push(r, { job: 'a' }, [fam('m', 'gauge', { x: '1' }), fam('n', 'gauge')]);
    expect(again.series).toEqual(first.series);
    // The index still knows the series belong to group a...
    expect(() => push(r, { job: 'a', x: '1' }, [fam('m', 'gauge')])).toThrow(/already exposed by another group/);
    // ...and a re-push that moves to other labels is checked, and frees the old ones.
    push(r, { job: 'a', x: '2' }, [fam('m', 'gauge')]);
    expect(() => push(r, { job: 'a' }, [fam('m', 'gauge', { x: '2' }), fam('n', 'gauge')])).toThrow(/already exposed by another group/);
    push(r, { job: 'a' }, [fam('m', 'gauge', { x: '3' }), fam('n', 'gauge')]);
    push(r, { job: 'a', x: '1' }, [fam('m', 'gauge')]);
    // Two samples of one push with the same labels are refused even when one keeps its identity.
    expect(() => push(r, { job: 'a' }, [{ name: 'm', type: 'gauge', metrics: [{ labels: { x: '3' }, value: 1 }, { labels: { x: '3' }, value: 2 }] }])).toThrow(
      /collected before with the same name and label values/,
    );
  });

  it('POST keeps the names it does not send', () => {
    const r = new GroupRegistry();
    push(r, { job: 'a' }, [fam('m', 'gauge'), fam('n', 'gauge')]);
    const g = push(r, { job: 'a' }, [fam('n', 'counter')], false);
    expect([...g.families.keys()].sort()).toEqual(['m', 'n']);
  });
});

describe('lifecycle bridge', () => {
  const group = (metrics: Record<string, number>, labels: Record<string, string> = { job: 'backup' }): Group => ({
    key: groupKey(labels),
    labels,
    families: new Map(Object.entries(metrics).map(([name, value]) => [name, { name, type: 'gauge', metrics: [{ labels: {}, value }] }])),
    push_time: 2_000_000_000_000,
    push_failure_time: 0,
  });
  const kinds = (g: Group) => deriveEvents(g).map((d) => `${d.event}@${d.timestamp}`);

  it.each([
    ['no batch metrics', { other: 1 }, []],
    ['running with progress', { backup_start_time_seconds: 100, backup_progress_percent: 40, backup_last_success_time_seconds: 50 }, ['started@100000', 'progress@2000000000000']],
    ['finished ok', { job_start_time_seconds: 100, job_last_success_time_seconds: 160 }, ['started@100000', 'succeeded@160000']],
    ['client_python example (success only)', { job_last_success_unixtime: 160 }, ['succeeded@160000']],
    ['client_golang example (completion + duration)', { db_backup_last_completion_timestamp_seconds: 160, db_backup_duration_seconds: 60, db_backup_last_success_timestamp_seconds: 160 }, ['started@100000', 'succeeded@160000']],
    ['completion newer than success = failed', { db_backup_last_completion_timestamp_seconds: 160, db_backup_last_success_timestamp_seconds: 90 }, ['failed@160000']],
    ['failure flag', { x_start_time_seconds: 100, x_end_time_seconds: 130, x_failed: 1 }, ['started@100000', 'failed@130000']],
    ['exit code', { x_start_time_seconds: 100, x_end_time_seconds: 130, x_exit_code: 2 }, ['started@100000', 'failed@130000']],
    ['progress ratio', { x_start_time_seconds: 100, x_progress_ratio: 0.25 }, ['started@100000', 'progress@2000000000000']],
  ])('%s', (_what, metrics, expected) => expect(kinds(group(metrics))).toEqual(expected));

  it('derives the same ids from the same values, and names the job after the grouping key', () => {
    const g = group({ x_start_time_seconds: 100, x_end_time_seconds: 130 }, { job: 'backup', instance: 'db1' });
    expect(deriveEvents(g)).toEqual(deriveEvents(g));
    expect(deriveEvents(g)[0]?.job_name).toBe('backup/instance=db1');
    expect(jobNameOf({ job: 'j', instance: '' })).toBe('j');
    expect(deriveEvents(group({ x_start_time_seconds: 100, x_progress_ratio: 0.25 }))[1]?.progress).toBe(25);
  });
});

describe('storage encoding of a group', () => {
  const long = 'v'.repeat(200); // length varints over one byte
  it.each([
    ['gauge, no labels', 'x 1\n'],
    ['counter with help and labels', '# HELP c_total Help with ünïcode.\n# TYPE c_total counter\nc_total{a="1",b="été"} 3.5\nc_total{a="2"} -0\n'],
    ['untyped specials', `u NaN\nu{l="${long}"} +Inf\nu{l="y"} -Inf\nu{l="z"} 1e-300\n`],
    ['many families', Array.from({ length: 50 }, (_, i) => `# TYPE g${i} gauge\ng${i}{i="${i}"} ${i * 1.5}\n`).join('')],
    ['summary and histogram (generic path)', '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'],
  ])('%s: the hand-written encoder writes what protobufjs writes, and it decodes back', (_what, text) => {
    const families = parseText(text);
    const bytes = encodeFamilies(families);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeFamiliesGeneric(families)))).toBe(true);
    expect(parseProtobufDelimited(bytes)).toEqual(families);
  });
});

describe('label value order as Go sorts it (UTF-8 bytes, i.e. code points)', () => {
  it.each([
    ['\uFF01', '\u{1F600}', -1], // U+FF01 before U+1F600 (JavaScript's < says the opposite)
    ['\u{1F600}', '\uE000', 1],
    ['a', 'b', -1],
    ['ab', 'a', 1],
    ['\u{1F600}', '\u{1F601}', -1],
    ['\u00e9', '\uFF01', -1],
  ])('%j vs %j → %i', (x, y, sign) => expect(Math.sign(compareCodePoints(x, y))).toBe(sign));

  it('agrees with sorting the UTF-8 bytes', () => {
    const words = ['a', 'z', '\u00e9', '\uD7FF', '\uE000', '\uFF01', '\uFFFF', '\u{10000}', '\u{1F600}', 'a\u{1F600}', 'a\uFF01'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareCodePoints)).toEqual(byBytes);
  });
});
