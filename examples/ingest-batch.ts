/**
 * Metering after the fact: a worker converts documents, and sends what it
 * served as usage events. The batcher gathers them and sends them in batches
 * (by size, or every second); each event gets an id when it is enqueued, so
 * a batch retried after a network error is counted once.
 *
 *   TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_TOKEN=tgs_… TOLLGATE_APP_ID=acme-ocr node dist/examples/ingest-batch.js
 */
import { Tollgate, type BatcherTotals } from '../src/client/index.js';
import { isMain, tollgateFromEnv } from './support.js';

export interface Options {
  tollgateUrl: string;
  /** A service token: it may send events and call the check API, nothing else. */
  token: string;
  /** The customer's app the documents were converted for. */
  appId: string;
  jobs: Array<{ pages: number; lang: string }>;
}

export async function main(options: Options): Promise<BatcherTotals> {
  const tollgate = new Tollgate({ baseUrl: options.tollgateUrl, token: options.token });
  const batcher = tollgate.events.batcher({
    maxBatch: 100,
    flushIntervalMs: 1000,
    maxRetries: 5,
    // Events that could not be delivered keep their ids: storing them and enqueueing them again later is safe.
    onError: (error, events) => console.error(`${events.length} usage events not sent: ${error.message}`),
  });

  for (const job of options.jobs) {
    // ... convert the document ...
    batcher.enqueue({ appId: options.appId, usageType: 'pdf', count: job.pages, requestArgs: { lang: job.lang }, timestamp: new Date() });
  }

  // Sends what is left (a worker would do this on SIGTERM), and says what became of every event.
  return batcher.close();
}

if (isMain(import.meta)) {
  const jobs = Array.from({ length: 250 }, (_, i) => ({ pages: 1 + (i % 10), lang: i % 2 ? 'en' : 'fr' }));
  console.log(await main({ ...tollgateFromEnv(), appId: process.env.TOLLGATE_APP_ID ?? 'acme-ocr', jobs }));
}
