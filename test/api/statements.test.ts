import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  /**
   * Billing statements over real HTTP, with a clock the test moves across
   * month ends and grace periods. The plan is Mathpix's: $0.002 an image up to
   * 1M, $0.0015 above; PDFs flat; every other usage type at price_per_call.
   */
  let server: TestServer;
  let admin: AdminClient;
  const clock = new ManualClock(Date.parse('2026-10-05T00:00:00Z'));
  const GROUP = 'acme';

  const MATHPIX_PRICES = [
    { usage_type: 'image', tiers: [{ up_to: 1_000_000, unit_price: '0.002' }, { up_to: null, unit_price: '0.0015' }] },
    { usage_type: 'pdf', unit_price: '0.01' },
  ];

  let seq = 0;
  async function ingest(appId: string, usageType: string, count: number, timestamp: string) {
    const res = await admin.post('/v1/events', [{ id: `evt-${(seq += 1)}`, app_id: appId, usage_type: usageType, count, timestamp }]);
    assert.equal(res.body.accepted, 1, JSON.stringify(res.body));
  }

  const statement = (period: string, query = '') => admin.get(`/admin/groups/${GROUP}/statements/${period}${query}`);

  let key: string;
  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
    const plan = await admin.post('/admin/plans', {
      id: 'mathpix', monthly_quota: -1, rate_limit_per_minute: -1, price_per_call: '0.005', prices: MATHPIX_PRICES,
    });
    assert.equal(plan.status, 201, JSON.stringify(plan.body));
    await admin.post('/admin/groups', { id: GROUP, name: 'Acme', plan_id: 'mathpix' });
    await admin.post(`/admin/groups/${GROUP}/apps`, { id: 'ocr' });
    await admin.post(`/admin/groups/${GROUP}/apps`, { id: 'batch' });
    key = (await admin.post('/admin/apps/ocr/keys', {})).body.key;
    await ingest('ocr', 'image', 700_000, '2026-10-02T10:00:00Z');
    await ingest('batch', 'image', 500_000, '2026-10-03T10:00:00Z');
    await ingest('ocr', 'pdf', 3, '2026-10-04T10:00:00Z');
    await ingest('batch', 'handwriting', 10, '2026-10-04T11:00:00Z');
  });
  after(async () => server.close());

  describe('plan prices', () => {
    test('a plan shows its currency and prices; price_per_call alone still works', async () => {
      const plan = await admin.get('/admin/plans/mathpix');
      assert.equal(plan.body.currency, 'USD');
      assert.deepEqual(plan.body.prices, MATHPIX_PRICES);
      const simple = await admin.post('/admin/plans', { id: 'enterprise', monthly_quota: -1, rate_limit_per_minute: -1, price_per_call: '0.01' });
      assert.deepEqual([simple.status, simple.body.currency, simple.body.prices], [201, 'USD', []]);
      const patched = await admin.patch('/admin/plans/enterprise', { currency: 'JPY', prices: [{ usage_type: 'image', unit_price: '1.5' }] });
      assert.deepEqual([patched.status, patched.body.currency, patched.body.prices, patched.body.price_per_call], [200, 'JPY', [{ usage_type: 'image', unit_price: '1.5' }], '0.01']);
    });

    const refused: Array<[string, unknown, RegExp]> = [
      ['tiers that descend', [{ usage_type: 'image', tiers: [{ up_to: 100, unit_price: '1' }, { up_to: 50, unit_price: '1' }, { up_to: null, unit_price: '1' }] }], /"prices\.0\.tiers\.1\.up_to" must be greater than 100/],
      ['a last tier with a bound', [{ usage_type: 'image', tiers: [{ up_to: 100, unit_price: '1' }] }], /"prices\.0\.tiers\.0\.up_to" must be null: the last tier is open-ended/],
      ['an open tier before the last', [{ usage_type: 'image', tiers: [{ up_to: null, unit_price: '1' }, { up_to: null, unit_price: '1' }] }], /tiers\.0\.up_to" must be a number/],
      ['both a flat price and tiers', [{ usage_type: 'image', unit_price: '1', tiers: [{ up_to: null, unit_price: '1' }] }], /either "unit_price" \(a flat price\) or "tiers"/],
      ['neither', [{ usage_type: 'image' }], /either "unit_price"/],
      ['a usage type priced twice', [{ usage_type: 'pdf', unit_price: '1' }, { usage_type: 'pdf', unit_price: '2' }], /usage type "pdf" is priced twice/],
      ['a negative price', [{ usage_type: 'pdf', unit_price: '-1' }], /body field "prices\.0\.unit_price" must match pattern/],
      ['ten decimals', [{ usage_type: 'pdf', unit_price: '0.0000000001' }], /body field "prices\.0\.unit_price" must match pattern/],
    ];
    for (const [what, prices, message] of refused) {
      test(`refused with a 400 naming the field: ${what}`, async () => {
        const res = await admin.post('/admin/plans', { id: `bad-${Math.random().toString(36).slice(2, 8)}`, monthly_quota: 1, rate_limit_per_minute: 1, prices });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, 'invalid_request');
        assert.match(res.body.message, message);
      });
    }

    test('an unknown currency is refused', async () => {
      for (const currency of ['XYZ', 'usd', 'DOLLARS']) {
        const res = await admin.patch('/admin/plans/enterprise', { currency });
        assert.equal(res.status, 400, currency);
        assert.match(res.body.message, /currency/);
      }
    });
  });

  describe('statements', () => {
    let october: any;

    test('the open period is a preview: graduated tiers over all apps, flat prices, the default price, per-app units', async () => {
      const res = await statement('2026-10');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      october = res.body;
      assert.deepEqual([october.status, october.preview, october.closed_at, october.closes_at], ['open', true, null, '2026-11-01T01:00:00.000Z']);
      assert.deepEqual(october.lines.map((l: any) => [l.usage_type, l.units, l.pricing, l.unit_price, l.amount, l.amount_decimal]), [
        ['handwriting', 10, 'flat', '0.005', 5, '0.05'],
        ['image', 1_200_000, 'graduated', null, 230_000, '2300.00'],
        ['pdf', 3, 'flat', '0.01', 3, '0.03'],
      ]);
      assert.deepEqual(october.lines[1].tiers, [
        { first_unit: 1, up_to: 1_000_000, units: 1_000_000, unit_price: '0.002', subtotal: '2000.00' },
        { first_unit: 1_000_001, up_to: null, units: 200_000, unit_price: '0.0015', subtotal: '300.00' },
      ]);
      assert.deepEqual(october.apps, [
        { app_id: 'batch', units: 500_010, usage_type: '' },
        { app_id: 'ocr', units: 700_003, usage_type: '' },
      ]);
      assert.deepEqual([october.total, october.total_decimal, october.currency], [230_008, '2300.08', 'USD']);
    });

    test('within the grace period it stays open; after it, it closes as it stood', async () => {
      clock.set(Date.parse('2026-11-01T00:59:00Z'));
      assert.equal((await statement('2026-10')).body.status, 'open');
      const list = await admin.get(`/admin/groups/${GROUP}/statements`);
      assert.deepEqual(list.body.items.map((s: any) => [s.period, s.status]), [['2026-11', 'open'], ['2026-10', 'open']]);

      clock.set(Date.parse('2026-11-01T01:00:00Z'));
      // Several requests close it at once: one statement is stored and all see it.
      const answers = await Promise.all(Array.from({ length: 5 }, () => statement('2026-10')));
      const closed = answers[0]!.body;
      assert.deepEqual([closed.status, closed.preview, closed.closed_at], ['closed', false, '2026-11-01T01:00:00.000Z']);
      for (const a of answers) assert.deepEqual(a.body, closed);
      assert.deepEqual({ ...closed, status: 'open', preview: false, closed_at: null }, { ...october, preview: false }, 'closed as it stood');
    });

    test('late usage never changes a closed statement: it is an adjustment on the next, priced at the old tiers', async () => {
      clock.set(Date.parse('2026-11-01T02:00:00Z'));
      const before = (await statement('2026-10')).body;
      await ingest('ocr', 'image', 10, '2026-10-31T23:00:00Z');
      await ingest('ocr', 'image', 5, '2026-11-01T00:10:00Z');
      assert.deepEqual((await statement('2026-10')).body, before, 'the closed statement is unchanged');

      const november = (await statement('2026-11')).body;
      // 1,200,010 images cost 2300.015, rounded half up to 2300.02: 2 cents more than billed.
      assert.deepEqual(november.adjustments, [{ period: '2026-10', usage_type: 'image', units: 10, amount: 2, amount_decimal: '0.02' }]);
      assert.deepEqual(november.lines.map((l: any) => [l.usage_type, l.units, l.amount]), [['image', 5, 1]], 'November bills its own 5 images at the first tier');
      assert.equal(november.total, 3);
    });

    test('a chain of closings: each late unit is billed once, and the amounts add up to one rounding of the final units', async () => {
      await ingest('batch', 'image', 10, '2026-10-31T23:30:00Z');
      clock.set(Date.parse('2026-12-01T01:00:00Z'));
      const november = (await statement('2026-11')).body;
      assert.equal(november.status, 'closed');
      // 1,200,020 images: 2300.03, 3 cents over the 2300.00 billed.
      assert.deepEqual(november.adjustments, [{ period: '2026-10', usage_type: 'image', units: 20, amount: 3, amount_decimal: '0.03' }]);

      clock.set(Date.parse('2026-12-02T00:00:00Z'));
      await ingest('ocr', 'image', 10, '2026-10-31T23:45:00Z');
      await ingest('ocr', 'pdf', 2, '2026-11-30T12:00:00Z');
      await ingest('ocr', 'image', 7, '2026-12-01T12:00:00Z');
      const december = (await statement('2026-12')).body;
      // October now holds 1,200,030 images: 2300.045 → 2300.05 in all, of which 2300.03 is billed.
      assert.deepEqual(december.adjustments, [
        { period: '2026-10', usage_type: 'image', units: 10, amount: 2, amount_decimal: '0.02' },
        { period: '2026-11', usage_type: 'pdf', units: 2, amount: 2, amount_decimal: '0.02' },
      ]);
      assert.deepEqual(december.lines.map((l: any) => [l.usage_type, l.units]), [['image', 7]]);
      const octoberImages = [(await statement('2026-10')).body.lines.find((l: any) => l.usage_type === 'image'), ...november.adjustments, ...december.adjustments]
        .filter((l: any) => l.usage_type === 'image' && (l.period ?? '2026-10') === '2026-10');
      assert.equal(octoberImages.reduce((sum: number, l: any) => sum + l.units, 0), 1_200_030, 'every October image billed once');
      assert.equal(octoberImages.reduce((sum: number, l: any) => sum + l.amount, 0), 230_005, 'and charged 2300.045 rounded once: 2300.05');

      clock.set(Date.parse('2027-01-01T01:00:00Z'));
      const closedDecember = (await statement('2026-12')).body;
      assert.equal(closedDecember.status, 'closed');
      assert.deepEqual(closedDecember.adjustments, december.adjustments);
      const january = (await statement('2027-01')).body;
      assert.deepEqual(january.adjustments, [], 'what December settled is not billed again');
    });

    test('the list: periods with status and totals, newest first, by pages', async () => {
      const list = await admin.get(`/admin/groups/${GROUP}/statements?limit=2`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items.map((s: any) => [s.period, s.status, s.total]), [
        // December: 7 images (0.014, rounded to 1 cent) and two adjustments of 2; November: 5 images (1 cent) and 3.
        ['2027-01', 'open', 0], ['2026-12', 'closed', 1 + 2 + 2], ['2026-11', 'closed', 1 + 3],
      ]);
      assert.equal(list.body.next, '2026-11');
      const rest = await admin.get(`/admin/groups/${GROUP}/statements?limit=2&after=2026-11`);
      assert.deepEqual(rest.body.items.map((s: any) => s.period), ['2026-10']);
      assert.equal(rest.body.next, null);
      const byQuery = await admin.get(`/admin/groups/${GROUP}/statements?period=2026-10`);
      assert.deepEqual(byQuery.body, (await statement('2026-10')).body);
    });

    test('CSV with format=csv or Accept: text/csv', async () => {
      const viaFormat = await fetch(`${server.url}/admin/groups/${GROUP}/statements/2026-10?format=csv`, { headers: { authorization: `Bearer ${(await import('../helpers/server.js')).ADMIN_TOKEN}` } });
      assert.equal(viaFormat.status, 200);
      assert.match(viaFormat.headers.get('content-type')!, /^text\/csv/);
      const csv = await viaFormat.text();
      const rows = csv.trimEnd().split('\r\n');
      assert.equal(rows[0], 'section,period,usage_type,app_id,tier,units,unit_price,amount,amount_decimal,currency');
      assert.ok(rows.includes('line,2026-10,image,,,1200000,,230000,2300.00,USD'), csv);
      assert.ok(rows.includes('tier,2026-10,image,,1000001-,200000,0.0015,,300.00,USD'), csv);
      assert.ok(rows.includes('app,2026-10,,ocr,,700003,,,,'), csv);
      assert.equal(rows[rows.length - 1], 'total,2026-10,,,,,,230008,2300.08,USD');

      const viaAccept = await request(`${server.url}/admin/groups/${GROUP}/statements`, { headers: { authorization: `Bearer ${(await import('../helpers/server.js')).ADMIN_TOKEN}`, accept: 'text/csv' } });
      assert.match(viaAccept.headers.get('content-type')!, /^text\/csv/);
      assert.match(viaAccept.body as string, /^period,period_start,period_end,status,closed_at,currency,total,total_decimal\r\n2027-01,/);
      assert.match(viaAccept.body as string, /\r\n2026-10,2026-10-01T00:00:00.000Z,2026-11-01T00:00:00.000Z,closed,2026-11-01T01:00:00.000Z,USD,230008,2300.08\r\n/);
    });

    test('errors: unknown group 404, bad period 400, periods outside the group\'s life 404, all JSON', async () => {
      const cases: Array<[string, number, RegExp]> = [
        [`/admin/groups/nope/statements`, 404, /No group with id "nope"/],
        [`/admin/groups/nope/statements/2026-10`, 404, /No group with id "nope"/],
        [`/admin/groups/${GROUP}/statements/2026-13`, 400, /YYYY-MM/],
        [`/admin/groups/${GROUP}/statements/october`, 400, /YYYY-MM/],
        [`/admin/groups/${GROUP}/statements?period=26-10`, 400, /YYYY-MM/],
        [`/admin/groups/${GROUP}/statements/2026-09`, 404, /begin with 2026-10/],
        [`/admin/groups/${GROUP}/statements/2027-02`, 404, /has not begun/],
        [`/admin/groups/${GROUP}/statements/2026-10?format=xml`, 400, /format/],
      ];
      for (const [path, status, message] of cases) {
        const res = await admin.get(path);
        assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message']);
        assert.match(res.body.message, message, path);
      }
      const unauthorized = await request(`${server.url}/admin/groups/${GROUP}/statements`);
      assert.equal(unauthorized.status, 401);
    });

    test('GET /v1/usage carries the current period\'s amount beside the seed fields', async () => {
      await ingest('ocr', 'pdf', 4, '2027-01-01T00:30:00Z');
      const res = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': key } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.current_charges, { period: '2027-01', currency: 'USD', amount: 4, amount_decimal: '0.04' });
      assert.deepEqual(Object.keys(res.body).sort(), ['current_charges', 'limits', 'monthly_quota', 'monthly_used', 'period_end', 'period_start', 'rate_limit_per_minute']);
    });

    test('/openapi.json describes the statements in JSON and CSV, and the plan prices', async () => {
      const doc = (await request(`${server.url}/openapi.json`)).body;
      const one = doc.paths['/admin/groups/{group_id}/statements/{period}'].get;
      assert.deepEqual(Object.keys(one.responses['200'].content).sort(), ['application/json', 'text/csv']);
      assert.ok(one.responses['200'].content['application/json'].schema.properties.adjustments);
      assert.ok(one.responses['404'] && one.responses['400']);
      assert.ok(doc.paths['/admin/groups/{group_id}/statements'].get.parameters.some((p: any) => p.name === 'period'));
      assert.ok(doc.paths['/admin/plans'].post.requestBody.content['application/json'].schema.properties.prices);
      assert.ok(doc.paths['/v1/usage'].get.responses['200'].content['application/json'].schema.properties.current_charges);
    });

    test('the grace period is a setting', async () => {
      const other = await startTestServer({ store, clock, config: { statementGraceMs: 0 } });
      try {
        clock.set(Date.parse('2026-12-15T00:00:00Z'));
        const a = adminClient(other.url);
        await a.post('/admin/plans', { id: 'p', monthly_quota: -1, rate_limit_per_minute: -1, price_per_call: '1', currency: 'JPY', time_zone: 'Asia/Tokyo' });
        await a.post('/admin/groups', { id: 'g', name: 'g', plan_id: 'p' });
        await a.post('/admin/groups/g/apps', { id: 'g-app' });
        const ingested = await a.post('/v1/events', [{ id: 'e1', app_id: 'g-app', usage_type: 'scan', count: 3, timestamp: '2026-12-14T23:00:00Z' }]);
        assert.equal(ingested.body.accepted, 1, JSON.stringify(ingested.body));
        clock.set(Date.parse('2027-01-01T00:00:00Z'));
        const res = await a.get('/admin/groups/g/statements');
        // 2027-01-01T00:00Z is 09:00 in Tokyo: December (Tokyo) ended 9 hours ago and, with no grace, is closed.
        assert.deepEqual(res.body.items.map((s: any) => [s.period, s.status, s.total_decimal]), [['2027-01', 'open', '0'], ['2026-12', 'closed', '3']]);
      } finally {
        await other.close();
        clock.set(Date.parse('2027-01-01T01:00:00Z'));
      }
    });
  });
});
