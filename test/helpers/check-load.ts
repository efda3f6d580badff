import { Pool } from 'undici';
import { ADMIN_TOKEN } from './server.js';
import type { ServerProcess } from './process.js';

/** One check's body and its answer, as a load sent it and got it back. */
export interface CheckAnswer {
  sent: { key: string; usage_type: string; cost?: number };
  status: number;
  body: {
    allowed?: boolean; code?: string; error?: string; denied_by?: string | null;
    credits?: { charged: number; balance: number } | null;
  };
}

/**
 * Sends `attempts` checks, the i-th with the body `call(i)`, through all the
 * `servers` at once on `connections` connections in all (spread evenly over
 * them, undici pools), and returns every answer. A bounded count, not a
 * duration: the load ends when the last answer is in.
 */
export async function checkLoad(servers: readonly ServerProcess[], connections: number, attempts: number, call: (i: number) => CheckAnswer['sent']): Promise<CheckAnswer[]> {
  const answers: CheckAnswer[] = [];
  const perServer = Math.ceil(connections / servers.length);
  let next = 0;
  await Promise.all(servers.map(async (server) => {
    const pool = new Pool(server.url, { connections: perServer });
    try {
      await Promise.all(Array.from({ length: perServer }, async () => {
        while (next < attempts) {
          const sent = call(next);
          next += 1;
          const res = await pool.request({
            method: 'POST', path: '/v1/check',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify(sent),
          });
          answers.push({ sent, status: res.statusCode, body: (await res.body.json()) as CheckAnswer['body'] });
        }
      }));
    } finally {
      await pool.close();
    }
  }));
  return answers;
}

/** Answers that are neither an admission nor a refusal with `code` (the first few, for a failure message). */
export function unexpected(answers: readonly CheckAnswer[], code: string): string[] {
  return answers
    .filter((a) => !(a.status === 200 && (a.body.allowed === true || (a.body.allowed === false && a.body.code === code))))
    .slice(0, 5).map((a) => `${a.status} ${JSON.stringify(a.body)}`);
}
