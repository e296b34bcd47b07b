import { describe, expect, it } from 'vitest';
import { parseGroupsQuery, selectGroups, type GroupsQuery } from '../../src/http/pages/groups-query.js';
import type { Group } from '../../src/pushgateway/model.js';

const group = (labels: Record<string, string>, push_time = 1, push_failure_time = 0): Group => ({ key: JSON.stringify(labels), labels, families: new Map(), push_time, push_failure_time });
const q = (over: Partial<GroupsQuery> = {}): GroupsQuery => ({ labels: '', failing: false, page: 1, per_page: 2, ...over });

describe('the /groups query', () => {
  const groups = [group({ job: 'b' }), group({ job: 'a', instance: 'x' }), group({ job: 'a', instance: 'Y' }, 5, 9), group({ job: 'c' }, 0, 3)];

  it('pages in the order the labels read, and counts the failing groups of all', () => {
    const p1 = selectGroups(groups, q());
    expect(p1.groups.map((g) => g.labels)).toEqual([{ job: 'a', instance: 'Y' }, { job: 'a', instance: 'x' }]);
    expect(p1).toMatchObject({ total: 4, pages: 2, page: 1, failing: 2 });
    expect(selectGroups(groups, q({ page: 2 })).groups.map((g) => g.labels.job)).toEqual(['b', 'c']);
    expect(selectGroups(groups, q({ page: 7 })).page).toBe(2);
  });

  it('filters on the label text, case-insensitively, and on failing pushes (refused after the last success)', () => {
    expect(selectGroups(groups, q({ labels: 'INSTANCE="y' })).groups.map((g) => g.labels.instance)).toEqual(['Y']);
    expect(selectGroups(groups, q({ failing: true })).groups.map((g) => g.labels.job)).toEqual(['a', 'c']);
    expect(selectGroups([], q())).toMatchObject({ groups: [], total: 0, pages: 1, page: 1 });
  });

  it('falls back to defaults for values a hand-edited URL may hold', () => {
    const of = (v: Record<string, string>) => parseGroupsQuery((k) => v[k]);
    expect(of({})).toEqual({ labels: '', failing: false, page: 1, per_page: 50 });
    expect(of({ page: '-3', per_page: '1e9', failing: '0', labels: '  job="x" ' })).toEqual({ labels: 'job="x"', failing: false, page: 1, per_page: 500 });
    expect(of({ page: '2.5', per_page: 'ten', failing: 'on' })).toMatchObject({ page: 1, per_page: 50, failing: true });
  });
});
