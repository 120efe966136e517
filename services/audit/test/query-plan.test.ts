// Whose records an audit query reads and how a page is cut: given a caller, when it queries, then this plan (or
// this error). No bus, no database.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditCallerRequiredError, AuditQueryError, AuditTenantForbiddenError, type AuditEventsQuery } from '@vigil/audit-contract';
import type { Caller } from '@vigil/bus';
import { pageOf, planAuditQuery, severitiesAtLeast } from '../src/query-plan.ts';

const auditorOf = (tenant: string): Caller => ({ actor: { kind: 'user', id: `auditor-of-${tenant}` }, tenant });
const platformAdmin: Caller = { actor: { kind: 'user', id: 'root' }, tenant: 'platform' };

describe('the scope of an audit query', () => {
  test('given a tenant’s auditor, when it names no tenant, then it reads its own tenant', () => {
    assert.equal(planAuditQuery(auditorOf('acme'), {}).tenant, 'acme');
  });

  test('given a tenant’s auditor, when it names its own tenant, then it reads its own tenant', () => {
    assert.equal(planAuditQuery(auditorOf('acme'), { tenant: 'acme' }).tenant, 'acme');
  });

  test('given a tenant’s auditor, when it names another tenant, then it is refused', () => {
    assert.throws(() => planAuditQuery(auditorOf('acme'), { tenant: 'globex' }), AuditTenantForbiddenError);
    assert.throws(() => planAuditQuery(auditorOf('acme'), { tenant: 'platform' }), AuditTenantForbiddenError);
  });

  test('given a platform caller, when it names a tenant, then it reads that tenant; naming none, every record', () => {
    assert.equal(planAuditQuery(platformAdmin, { tenant: 'acme' }).tenant, 'acme');
    assert.equal(planAuditQuery(platformAdmin, { tenant: 'platform' }).tenant, 'platform');
    assert.equal(planAuditQuery(platformAdmin, {}).tenant, undefined);
  });

  test('given no caller, or a caller without a tenant, then the query is refused', () => {
    assert.throws(() => planAuditQuery(undefined, {}), AuditCallerRequiredError);
    assert.throws(() => planAuditQuery({ actor: { kind: 'service', id: 'x' } }, {}), AuditCallerRequiredError);
  });
});

describe('the filters of an audit query', () => {
  test('severity is a minimum', () => {
    assert.deepEqual(severitiesAtLeast('info'), ['info', 'notice', 'warning', 'critical']);
    assert.deepEqual(severitiesAtLeast('warning'), ['warning', 'critical']);
    assert.deepEqual(severitiesAtLeast('critical'), ['critical']);
    assert.deepEqual(planAuditQuery(auditorOf('acme'), { severity: 'notice' }).severities, ['notice', 'warning', 'critical']);
  });

  test('defaults: 100 records in chain order; every filter is carried as given', () => {
    const query: AuditEventsQuery = {
      category: 'authentication',
      actor_id: 'u1',
      type: 'identity.user.created',
      since: '2026-01-01T00:00:00Z',
      until: '2026-01-02T00:00:00.000+01:00',
      after: 42,
      limit: 7,
      order: 'desc',
    };
    assert.deepEqual(planAuditQuery(auditorOf('acme'), {}), { tenant: 'acme', limit: 100, order: 'asc' });
    assert.deepEqual(planAuditQuery(auditorOf('acme'), query), {
      tenant: 'acme',
      category: 'authentication',
      actorId: 'u1',
      type: 'identity.user.created',
      since: new Date('2026-01-01T00:00:00Z'),
      until: new Date('2026-01-01T23:00:00Z'),
      after: 42,
      limit: 7,
      order: 'desc',
    });
  });

  test('a time range that is empty by construction is a bad query', () => {
    assert.throws(() => planAuditQuery(auditorOf('acme'), { since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }), AuditQueryError);
    assert.throws(() => planAuditQuery(auditorOf('acme'), { since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }), AuditQueryError);
  });
});

describe('cutting a page', () => {
  const rows = (n: number, size = 10) => Array.from({ length: n }, (_, i) => ({ position: i + 1, pad: 'x'.repeat(size) }));

  test('limit + 1 rows read: a full page and a cursor on its last record', () => {
    const page = pageOf(rows(4), 3, 1_000_000);
    assert.deepEqual(page.records.map((r) => r.position), [1, 2, 3]);
    assert.equal(page.next, 3);
  });

  test('fewer rows than limit + 1: the last page, no cursor', () => {
    assert.equal(pageOf(rows(3), 3, 1_000_000).next, null);
    assert.deepEqual(pageOf([], 3, 1_000_000), { records: [], next: null });
  });

  test('records that would not fit in one bus message end the page early, with a cursor', () => {
    const big = rows(5, 400);
    const oneRecord = Buffer.byteLength(JSON.stringify(big[0])) + 1;
    const page = pageOf(big, 4, oneRecord * 2 + 10);
    assert.deepEqual(page.records.map((r) => r.position), [1, 2]);
    assert.equal(page.next, 2);
  });

  test('the first record is always taken, so paging never stalls', () => {
    const page = pageOf(rows(2, 400), 4, 10);
    assert.deepEqual(page.records.map((r) => r.position), [1]);
    assert.equal(page.next, 1);
  });
});
