import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body. */
  event: any;
}

/** What the receiver does with the n-th request (from 0): answer a status, or never answer. */
export type Behaviour = (n: number) => number | 'hang';

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Requests that are being held open (behaviour 'hang'). */
  hanging(): number;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1 that records every webhook it gets. */
export async function startReceiver(behaviour: Behaviour = () => 204): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const n = received.length;
      received.push({ headers: req.headers, body, event: JSON.parse(body) });
      const answer = behaviour(n);
      if (answer === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.writeHead(answer).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    hanging: () => held.size,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Verifies a received delivery's `webhook-*` headers with the Standard
 * Webhooks library itself (npm `standardwebhooks`), given the secret as
 * Tollgate shows it, and returns the parsed body; throws when they do not
 * verify (wrong signature, timestamp more than 5 minutes off the real clock).
 */
export function verifyStandardWebhook(secret: string, hook: ReceivedHook): unknown {
  const headers = Object.fromEntries(Object.entries(hook.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  return new Webhook(secret).verify(hook.body, headers);
}

/**
 * Verifies a received delivery's `Tollgate-Signature` with Stripe's own
 * library (npm `stripe`, `webhooks.constructEvent`, which reads the header's
 * value whatever its name), given the whole `whsec_...` secret; returns the
 * parsed body, throws when it does not verify. Nothing is sent to Stripe.
 */
export function verifyWithStripe(secret: string, hook: ReceivedHook): unknown {
  stripe ??= new Stripe('sk_test_tollgate_never_used');
  return stripe.webhooks.constructEvent(hook.body, hook.headers['tollgate-signature'] as string, secret);
}

let stripe: Stripe | undefined;

// The documented verification snippet, as a receiver would paste it (docs/alerts-and-webhooks.md, "What is sent"): Stripe's
// check (its libraries' constructEvent), the whole `whsec_...` string as the HMAC key.
export function verifyTollgateSignature(secret: string, header: string, body: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.split('=', 2)));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
  const fresh = Math.abs(now / 1000 - Number(parts.t)) <= toleranceSeconds;
  return fresh && typeof parts.v1 === 'string' && parts.v1.length === expected.length
    && timingSafeEqual(Buffer.from(parts.v1), Buffer.from(expected));
}
