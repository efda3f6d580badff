import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/child.js';
import { adminApi, requestJson } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, median, ms, percentile, ratio } from './lib/stats.js';

export interface DashboardOptions {
  /** Groups in the catalogue the dashboard lists. */
  groups: number;
  /** Timed requests per measured call. */
  samples: number;
}

export interface DashboardReport {
  options: DashboardOptions;
  /** The dashboard's first page of groups with their quota gauges (usage summed from the rollups). */
  overview: { medianMs: number; p95Ms: number };
  /** The admin API's plain page of groups (no usage), on the same server: the baseline. */
  plainList: { medianMs: number; p95Ms: number };
  /** Every page of the overview, one after the other. */
  allPages: { pages: number; totalMs: number; slowestMs: number };
  failures: string[];
}

const PAGE = 20;
/** Groups given usage, so that their gauges are summed from real rollup rows. */
const WITH_USAGE = 200;

/**
 * The dashboard with thousands of groups: a page of groups with each one's
 * quota gauge (GET /dashboard/api/groups-overview, one rollup sum per
 * group shown) against the admin API's plain page of groups on the same
 * server; then every page in turn, checking that they list each group once
 * and that the gauges hold the units ingested.
 */
export async function runDashboardBench(options: DashboardOptions): Promise<DashboardReport> {
  const failures: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-dashboard-'));
  const server = await startServer('dashboard', serverScript('tollgate-server'), { TOLLGATE_DATA_DIR: dir, TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn' });
  try {
    const admin = adminApi(server.url, BENCH_ADMIN_TOKEN);
    await admin('POST', '/admin/plans', { id: 'dash', monthly_quota: 100_000, rate_limit_per_minute: -1, time_zone: 'UTC' });
    const ids = Array.from({ length: options.groups }, (_, i) => `dash-${String(i).padStart(6, '0')}`);
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(ids.slice(i, i + 20).map((id) => admin('POST', '/admin/groups', { id, name: `Group ${id}`, plan_id: 'dash' })));
    }
    // Usage for some groups: i + 1 units for the i-th.
    const used = new Map<string, number>();
    for (const [i, id] of ids.slice(0, WITH_USAGE).entries()) {
      await admin('POST', `/admin/groups/${id}/apps`, { id: `${id}-app` });
      used.set(id, i + 1);
    }
    const events = [...used].map(([id, count]) => ({ id: `evt-${id}`, app_id: `${id}-app`, usage_type: 'image', count }));
    const ingested = await requestJson<{ accepted: number }>(`${server.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` }, body: events });
    if (ingested.body.accepted !== events.length) throw new Error(`ingest: ${ingested.text.slice(0, 200)}`);
    log(`dashboard: ${int(options.groups)} groups, ${WITH_USAGE} with usage`);

    const signIn = await fetch(`${server.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: BENCH_ADMIN_TOKEN }) });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    if (signIn.status !== 200 || cookie === '') throw new Error(`sign-in answered ${signIn.status}`);
    const timed = async (path: string, headers: Record<string, string>): Promise<[number, { items: Array<Record<string, unknown>>; next: string | null }]> => {
      const started = performance.now();
      const res = await requestJson<{ items: Array<Record<string, unknown>>; next: string | null }>(`${server.url}${path}`, { headers });
      const took = performance.now() - started;
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 200)}`);
      return [took, res.body];
    };
    const overviewPath = `/dashboard/api/groups-overview?limit=${PAGE}`;
    const plainPath = `/admin/groups?limit=${PAGE}`;
    const bearer = { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
    for (let i = 0; i < 10; i += 1) await Promise.all([timed(overviewPath, { cookie }), timed(plainPath, bearer)]); // warm-up
    // Alternated, so that neither gets the quieter moments of a shared machine.
    const overviewTimes: number[] = [];
    const plainTimes: number[] = [];
    for (let i = 0; i < options.samples; i += 1) {
      overviewTimes.push((await timed(overviewPath, { cookie }))[0]);
      plainTimes.push((await timed(plainPath, bearer))[0]);
    }
    const overview = { medianMs: median(overviewTimes), p95Ms: percentile(overviewTimes, 95) };
    const plainList = { medianMs: median(plainTimes), p95Ms: percentile(plainTimes, 95) };

    const seen = new Map<string, number>();
    let after: string | null = null;
    let pages = 0;
    let slowestMs = 0;
    const started = performance.now();
    do {
      const [took, page] = await timed(`/dashboard/api/groups-overview?limit=${PAGE}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, { cookie });
      slowestMs = Math.max(slowestMs, took);
      pages += 1;
      for (const item of page.items) seen.set(String(item.group_id), (seen.get(String(item.group_id)) ?? 0) + 1);
      for (const item of page.items) {
        const expected = used.get(String(item.group_id)) ?? 0;
        if (item.monthly_used !== expected) failures.push(`dashboard: group ${item.group_id} shows ${item.monthly_used} units, ${expected} were ingested`);
      }
      after = page.next;
    } while (after !== null);
    const allPages = { pages, totalMs: performance.now() - started, slowestMs };
    if (seen.size !== options.groups || [...seen.values()].some((n) => n !== 1)) failures.push(`dashboard: the pages listed ${seen.size} distinct groups of ${options.groups}, some more than once`);

    log(`dashboard: overview page ${ms(overview.medianMs)} (p95 ${ms(overview.p95Ms)}) vs plain list ${ms(plainList.medianMs)}: ${ratio(overview.medianMs / plainList.medianMs)}; `
      + `all ${pages} pages in ${ms(allPages.totalMs)}, slowest ${ms(slowestMs)}`);
    return { options, overview, plainList, allPages, failures };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function dashboardSummaryRows(r: DashboardReport): string[][] {
  return [
    ['dashboard groups page median', ms(r.overview.medianMs), ms(r.plainList.medianMs), ratio(r.overview.medianMs / r.plainList.medianMs),
      `${int(r.options.groups)} groups, ${PAGE} per page with quota gauges; baseline: GET /admin/groups (no usage); p95 ${ms(r.overview.p95Ms)}`],
    ['dashboard every page', ms(r.allPages.totalMs), '', '', `${r.allPages.pages} pages one after another, slowest ${ms(r.allPages.slowestMs)}; `
      + (r.failures.length === 0 ? 'each group once, gauges = units ingested (ok)' : 'DIFFERENT (failure)')],
  ];
}
