/**
 * The promise of DESIGN.md section 1: every client example in the two seed
 * pages works against Tollgate unchanged once the base URL points at it.
 *
 * Each example below is copied verbatim from its seed page. The only edits
 * made before running it are, in `adapt()`: the base URL becomes the test
 * server's, the placeholder credentials become a real customer's, and the
 * Mathpix `×pan` (the HTML entity `&times` that ate `&timespan`) is read as
 * `&timespan`. Java and the Mathpix Go fragment are wrapped in the
 * boilerplate that makes them a program. The Ruby example turns TLS on
 * itself (`use_ssl = true`), so it runs against Tollgate serving HTTPS, with
 * a certificate from a test CA its OpenSSL trusts. Every example then runs as
 * a real program in its own language against a real server, and its printed
 * output is checked; a language not installed fails the test under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { TestCa, trustingAgent } from '../helpers/tls.js';
import { runs, toolMissing } from '../helpers/tools.js';

// ---------------------------------------------------------------------------
// The seed examples, verbatim. (String.raw keeps curl's line-continuation
// backslashes; the JavaScript examples use a plain template, so the page's
// `${params}` is written `\${params}` here.)
// ---------------------------------------------------------------------------

// From seeds/000_bd16b83fc6434cef.txt (Mathpix), cURL.
const MATHPIX_CURL = String.raw`# Example: Query API usage grouped by usage type for a date range
curl -X GET \
'https://api.mathpix.com/v3/ocr-usage?from_date=2021-01-01T00%3A00%3A00.000Z&to_date=2021-01-02T00%3A00%3A00.000Z&group_by=usage_type×pan=month' \
-H 'app_id: APP_ID' \
-H 'app_key: APP_KEY'`;

// From seeds/000_bd16b83fc6434cef.txt (Mathpix), Python.
const MATHPIX_PYTHON = String.raw`# Example: Query API usage grouped by usage type for a date range
import requests
url = "https://api.mathpix.com/v3/ocr-usage"
headers = {
"app_id": "APP_ID",
"app_key": "APP_KEY",
}
params = {
"from_date": "2021-01-01T00:00:00.000Z",
"to_date": "2021-01-02T00:00:00.000Z",
"group_by": "usage_type",
"timespan": "month",
}
response = requests.get(url, headers=headers, params=params, timeout=30)
print(response.json())`;

// From seeds/000_bd16b83fc6434cef.txt (Mathpix), JavaScript / TypeScript.
const MATHPIX_JAVASCRIPT = `// Example: Query API usage grouped by usage type for a date range
const params = new URLSearchParams({
from_date: "2021-01-01T00:00:00.000Z",
to_date: "2021-01-02T00:00:00.000Z",
group_by: "usage_type",
timespan: "month",
});
const response = await fetch(
\`https://api.mathpix.com/v3/ocr-usage?\${params}\`,
{
headers: {
app_id: "APP_ID",
app_key: "APP_KEY",
},
}
);
const result = await response.json();
console.log(JSON.stringify(result, null, 2));`;

// From seeds/000_bd16b83fc6434cef.txt (Mathpix), Go (a fragment: wrapped by goMain()).
const MATHPIX_GO = String.raw`// Example: Query API usage grouped by usage type for a date range
req, _ := http.NewRequest("GET",
"https://api.mathpix.com/v3/ocr-usage?from_date=2021-01-01T00%3A00%3A00.000Z&to_date=2021-01-02T00%3A00%3A00.000Z&group_by=usage_type×pan=month",
nil)
req.Header.Set("app_id", "APP_ID")
req.Header.Set("app_key", "APP_KEY")
resp, _ := http.DefaultClient.Do(req)
defer resp.Body.Close()
result, _ := io.ReadAll(resp.Body)
fmt.Println(string(result))`;

// From seeds/000_bd16b83fc6434cef.txt (Mathpix), Java (a fragment: wrapped by javaMain()).
const MATHPIX_JAVA = String.raw`// Example: Query API usage grouped by usage type for a date range
HttpClient client = HttpClient.newHttpClient();
HttpRequest request = HttpRequest.newBuilder()
.uri(URI.create("https://api.mathpix.com/v3/ocr-usage?from_date=2021-01-01T00%3A00%3A00.000Z&to_date=2021-01-02T00%3A00%3A00.000Z&group_by=usage_type×pan=month"))
.header("app_id", "APP_ID")
.header("app_key", "APP_KEY")
.GET()
.build();
HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
System.out.println(response.body());`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), cURL.
const PAPERGUIDE_CURL = String.raw`curl -X GET "https://api.paperguide.ai/v1/usage" \
-H "Content-Type: application/json" \
-H "x-api-key: YOUR_API_KEY"`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), cURL, the "Request example" further down the page.
const PAPERGUIDE_CURL_REQUEST_EXAMPLE = String.raw`curl -X GET "https://api.paperguide.ai/v1/usage" \
-H "x-api-key: pg_api_example_9xmk7q2r"`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), Python.
const PAPERGUIDE_PYTHON = String.raw`import requests
import json
url = "https://api.paperguide.ai/v1/usage"
headers = {
"Content-Type": "application/json",
"x-api-key": "YOUR_API_KEY"
}
response = requests.get(url, headers=headers)
print(response.json())`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), JavaScript.
const PAPERGUIDE_JAVASCRIPT = `const response = await fetch("https://api.paperguide.ai/v1/usage", {
method: "GET",
headers: {
"Content-Type": "application/json",
"x-api-key": "YOUR_API_KEY"
}
});
const data = await response.json();
console.log(data);`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), Go.
const PAPERGUIDE_GO = String.raw`package main
import (
"fmt"
"net/http"
)
func main() {
req, err := http.NewRequest("GET", "https://api.paperguide.ai/v1/usage", nil)
if err != nil {
panic(err)
}
req.Header.Set("Content-Type", "application/json")
req.Header.Set("x-api-key", "YOUR_API_KEY")
client := &http.Client{}
resp, err := client.Do(req)
if err != nil {
panic(err)
}
defer resp.Body.Close()
fmt.Println("Response Status:", resp.Status)
}`;

// From seeds/004_b14a61ba40583bbd.txt (Paperguide), Ruby.
const PAPERGUIDE_RUBY = String.raw`require 'net/http'
require 'json'
uri = URI('https://api.paperguide.ai/v1/usage')
http = Net::HTTP.new(uri.host, uri.port)
http.use_ssl = true
request = Net::HTTP::Get.new(uri)
request['Content-Type'] = 'application/json'
request['x-api-key'] = 'YOUR_API_KEY'
response = http.request(request)
puts response.body`;

const SEED_FILES = {
  mathpix: '000_bd16b83fc6434cef.txt',
  paperguide: '004_b14a61ba40583bbd.txt',
} as const;

const SEED_EXAMPLES: Array<{ seed: keyof typeof SEED_FILES; name: string; text: string }> = [
  { seed: 'mathpix', name: 'cURL', text: MATHPIX_CURL },
  { seed: 'mathpix', name: 'Python', text: MATHPIX_PYTHON },
  { seed: 'mathpix', name: 'JavaScript', text: MATHPIX_JAVASCRIPT },
  { seed: 'mathpix', name: 'Go', text: MATHPIX_GO },
  { seed: 'mathpix', name: 'Java', text: MATHPIX_JAVA },
  { seed: 'paperguide', name: 'cURL', text: PAPERGUIDE_CURL },
  { seed: 'paperguide', name: 'cURL (request example)', text: PAPERGUIDE_CURL_REQUEST_EXAMPLE },
  { seed: 'paperguide', name: 'Python', text: PAPERGUIDE_PYTHON },
  { seed: 'paperguide', name: 'JavaScript', text: PAPERGUIDE_JAVASCRIPT },
  { seed: 'paperguide', name: 'Go', text: PAPERGUIDE_GO },
  { seed: 'paperguide', name: 'Ruby', text: PAPERGUIDE_RUBY },
];

// ---------------------------------------------------------------------------
// The only edits: base URL, credentials, `×pan`.
// ---------------------------------------------------------------------------

/** Replaces every `from` with its `to`; each `from` must occur, so a mistyped template cannot slip through unedited. */
function adapt(template: string, replacements: ReadonlyArray<readonly [string, string]>): string {
  let text = template;
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), `the example should contain ${JSON.stringify(from)}:\n${template}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** `&timespan` as the page meant it: the `&times` entity ate it in the URL-string examples. */
const TIMESPAN_FIX = ['×pan=', '&timespan='] as const;

function mathpix(template: string): string {
  const fixes = template.includes(TIMESPAN_FIX[0]) ? [TIMESPAN_FIX] : [];
  return adapt(template, [
    ['https://api.mathpix.com', server.url],
    ['APP_ID', customer.appId],
    ['APP_KEY', customer.key],
    ...fixes,
  ]);
}

/** The Paperguide example aimed at a Tollgate (the test server unless told) with a customer's key. */
function paperguide(template: string, placeholderKey = 'YOUR_API_KEY', target = { url: server.url, key: customer.key }): string {
  return adapt(template, [['https://api.paperguide.ai', target.url], [placeholderKey, target.key]]);
}

/** The boilerplate that turns the Java fragment into a single-file program (`java File.java`). */
function javaMain(fragment: string): string {
  return [
    'import java.net.URI;',
    'import java.net.http.HttpClient;',
    'import java.net.http.HttpRequest;',
    'import java.net.http.HttpResponse;',
    '',
    'public class SeedExample {',
    '  public static void main(String[] args) throws Exception {',
    fragment,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The boilerplate that turns the Mathpix Go fragment into a program. */
function goMain(fragment: string): string {
  return ['package main', '', 'import (', '\t"fmt"', '\t"io"', '\t"net/http"', ')', '', 'func main() {', fragment, '}', ''].join('\n');
}

// ---------------------------------------------------------------------------
// Running programs.
// ---------------------------------------------------------------------------

interface Ran { code: number | null; stdout: string; stderr: string }

/** Children must reach 127.0.0.1 directly, and a child node must not think it is a test runner's child. */
const CHILD_ENV: NodeJS.ProcessEnv = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
  delete env.NODE_TEST_CONTEXT;
  return env;
})();

/** Where a program runs (the scratch directory unless told), its standard input, and variables added to its environment. */
interface RunOptions { cwd?: string; input?: string; env?: NodeJS.ProcessEnv }

function run(command: string, args: string[], options: RunOptions & { timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? workDir, env: { ...CHILD_ENV, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a program and requires exit code 0, showing its output otherwise. */
async function runOk(label: string, command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const ran = await run(command, args, options);
  assert.equal(ran.code, 0, `${label} exited with ${ran.code}\n--- stderr ---\n${ran.stderr}\n--- stdout ---\n${ran.stdout}`);
  return ran.stdout;
}

/** Whether a command can be started at all (false when it is not installed). */
async function installed(command: string, args: string[]): Promise<boolean> {
  try {
    return (await run(command, args, { timeoutMs: 30_000 })).code === 0;
  } catch {
    return false;
  }
}

/** The first Python that can import requests, or null. */
async function pythonWithRequests(): Promise<string | null> {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    if (await installed(candidate, ['-c', 'import requests'])) return candidate;
  }
  return null;
}

/**
 * Go builds each example into a cache of this run's own (the second build
 * reuses what the first compiled), and never downloads anything: the
 * examples need nothing but the standard library.
 */
function goEnv(): NodeJS.ProcessEnv {
  return { GOCACHE: join(workDir, 'go-cache'), GOPATH: join(workDir, 'go-path'), GOPROXY: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '' };
}

/** Writes a program into the scratch directory and returns its path. */
function writeProgram(relativePath: string, text: string): string {
  const path = join(workDir, relativePath);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** Python prints `response.json()` as a dict repr; Python itself turns that back into JSON. */
async function parsePythonRepr(python: string, repr: string): Promise<unknown> {
  const json = await runOk('ast.literal_eval', python, ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))'], { input: repr });
  return JSON.parse(json);
}

/** Node's console.log of a plain object (util.inspect format) is a JavaScript expression. */
function parseInspected(text: string): unknown {
  return runInNewContext(`(${text})`, {}, { timeout: 1000 });
}

// ---------------------------------------------------------------------------
// The server, the customer and the calls the examples then report.
// ---------------------------------------------------------------------------

const PLAN = { monthlyQuota: 10, ratePerMinute: 50 } as const;
/** Inside the window the Mathpix examples query (2021-01-01 to 2021-01-02). */
const CALL_TIME = Date.parse('2021-01-01T10:00:00Z');
const IMAGE_ARGS = [
  { formats: ['text', 'data'], math_inline_delimiters: ['$', '$'] },
  { math_inline_delimiters: ['$', '$'], formats: ['text', 'data'] },
  { formats: ['text', 'data'], math_inline_delimiters: ['$', '$'] },
];
/** SHA-1 of the canonical JSON (sorted keys, no spaces) of IMAGE_ARGS, the same for each key order. */
const IMAGE_ARGS_HASH = createHash('sha1').update('{"formats":["text","data"],"math_inline_delimiters":["$","$"]}').digest('hex');
const ASYNC_CALLS = 2;
const CHECKS = IMAGE_ARGS.length + ASYNC_CALLS;

let server: TestServer;
let customer: Awaited<ReturnType<typeof setupCustomer>>;
let workDir: string;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'tollgate-seed-examples-'));
  server = await startTestServer({ clock: new ManualClock(CALL_TIME) });
  customer = await customerWithCalls(adminClient(server.url));
});

after(async () => {
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** The customer the examples ask about, and the calls they then report, made through the admin client. */
async function customerWithCalls(admin: AdminClient): Promise<Awaited<ReturnType<typeof setupCustomer>>> {
  const created = await setupCustomer(admin, PLAN);
  for (const args of IMAGE_ARGS) {
    const check = await admin.post('/v1/check', { key: created.key, usage_type: 'image', request_args: args });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.allowed, true, JSON.stringify(check.body));
    assert.equal(check.body.request_args_hash, IMAGE_ARGS_HASH);
  }
  for (let i = 0; i < ASYNC_CALLS; i++) {
    // The Mathpix way of naming the customer: app_id + app_key.
    const check = await admin.post('/v1/check', { app_id: created.appId, app_key: created.key, usage_type: 'image-async' });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.allowed, true, JSON.stringify(check.body));
    assert.equal(check.body.request_args_hash, '');
  }
  return created;
}

/** What the Mathpix query must answer: one record per usage type for January 2021. */
function expectedOcrUsage() {
  const record = { from_date: '2021-01-01T00:00:00.000Z', app_id: customer.appId, group_id: customer.groupId };
  return {
    ocr_usage: [
      { ...record, usage_type: 'image', request_args_hash: IMAGE_ARGS_HASH, count: IMAGE_ARGS.length },
      { ...record, usage_type: 'image-async', request_args_hash: '', count: ASYNC_CALLS },
    ],
  };
}

function assertOcrUsage(actual: unknown): void {
  assert.match(IMAGE_ARGS_HASH, /^[0-9a-f]{40}$/);
  assert.deepEqual(actual, expectedOcrUsage());
}

/** The Paperguide fields: usage queries count against the rate limit but never against the quota, so always CHECKS. */
function assertCurrentUsage(actual: unknown): void {
  assert.ok(actual !== null && typeof actual === 'object', `expected an object, got ${JSON.stringify(actual)}`);
  const { monthly_used, monthly_quota, rate_limit_per_minute } = actual as Record<string, unknown>;
  assert.deepEqual(
    { monthly_used, monthly_quota, rate_limit_per_minute },
    { monthly_used: CHECKS, monthly_quota: PLAN.monthlyQuota, rate_limit_per_minute: PLAN.ratePerMinute },
  );
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

test('the examples in this file are verbatim copies of the seed pages', (t) => {
  // The seed pages live beside the repository (/work/shared/seeds), not in it.
  const seedsDir = process.env.TOLLGATE_SEEDS_DIR ?? fileURLToPath(new URL('../../../../shared/seeds/', import.meta.url));
  const pages = Object.fromEntries(Object.entries(SEED_FILES).map(([seed, file]) => [seed, join(seedsDir, file)]));
  const missing = Object.values(pages).filter((path) => !existsSync(path));
  if (missing.length > 0) {
    t.skip(`seed pages not found (${missing.join(', ')}); set TOLLGATE_SEEDS_DIR to compare`);
    return;
  }
  for (const example of SEED_EXAMPLES) {
    const page = readFileSync(pages[example.seed]!, 'utf8');
    assert.ok(page.includes(example.text), `${example.seed} ${example.name} is not a verbatim copy of ${SEED_FILES[example.seed]}`);
  }
});

describe('Mathpix GET /v3/ocr-usage: the examples of seeds/000_bd16b83fc6434cef.txt', () => {
  test('cURL prints the usage records', async (t) => {
    if (!(await installed('curl', ['--version']))) return toolMissing(t, 'curl is not installed');
    const stdout = await runOk('curl', 'bash', ['-c', mathpix(MATHPIX_CURL)]);
    assertOcrUsage(JSON.parse(stdout));
  });

  test('Python requests prints the usage records', async (t) => {
    const python = await pythonWithRequests();
    if (python === null) return toolMissing(t, 'no Python with the requests package (tried python3, /usr/bin/python3)');
    const stdout = await runOk('python', python, [writeProgram('mathpix/example.py', mathpix(MATHPIX_PYTHON))]);
    assertOcrUsage(await parsePythonRepr(python, stdout));
  });

  test('JavaScript fetch prints the usage records as indented JSON', async () => {
    const stdout = await runOk('node', process.execPath, [writeProgram('mathpix/example.mjs', mathpix(MATHPIX_JAVASCRIPT))]);
    assert.equal(stdout, `${JSON.stringify(expectedOcrUsage(), null, 2)}\n`);
  });

  test('Java HttpClient prints the usage records', async (t) => {
    if (!(await installed('java', ['-version']))) return toolMissing(t, 'java is not installed');
    const stdout = await runOk('java', 'java', [writeProgram('mathpix/SeedExample.java', javaMain(mathpix(MATHPIX_JAVA)))]);
    assertOcrUsage(JSON.parse(stdout));
  });

  test('Go net/http prints the usage records', async (t) => {
    if (!(await installed('go', ['version']))) return toolMissing(t, 'go is not installed');
    const stdout = await runOk('go', 'go', ['run', writeProgram('mathpix-go/main.go', goMain(mathpix(MATHPIX_GO)))], { env: goEnv() });
    assertOcrUsage(JSON.parse(stdout));
  });
});

describe('Paperguide GET /v1/usage: the examples of seeds/004_b14a61ba40583bbd.txt', () => {
  test('cURL prints monthly_used, monthly_quota and rate_limit_per_minute', async (t) => {
    if (!(await installed('curl', ['--version']))) return toolMissing(t, 'curl is not installed');
    const stdout = await runOk('curl', 'bash', ['-c', paperguide(PAPERGUIDE_CURL)]);
    assertCurrentUsage(JSON.parse(stdout));
  });

  test('cURL, the request example with only x-api-key, prints the same', async (t) => {
    if (!(await installed('curl', ['--version']))) return toolMissing(t, 'curl is not installed');
    const stdout = await runOk('curl', 'bash', ['-c', paperguide(PAPERGUIDE_CURL_REQUEST_EXAMPLE, 'pg_api_example_9xmk7q2r')]);
    assertCurrentUsage(JSON.parse(stdout));
  });

  test('Python requests prints the usage', async (t) => {
    const python = await pythonWithRequests();
    if (python === null) return toolMissing(t, 'no Python with the requests package (tried python3, /usr/bin/python3)');
    const stdout = await runOk('python', python, [writeProgram('paperguide/example.py', paperguide(PAPERGUIDE_PYTHON))]);
    assertCurrentUsage(await parsePythonRepr(python, stdout));
  });

  test('JavaScript fetch logs the usage', async () => {
    const stdout = await runOk('node', process.execPath, [writeProgram('paperguide/example.mjs', paperguide(PAPERGUIDE_JAVASCRIPT))]);
    assert.match(stdout, new RegExp(`monthly_used: ${CHECKS},`));
    assertCurrentUsage(parseInspected(stdout));
  });

  test('Go net/http prints "Response Status: 200 OK"', async (t) => {
    if (!(await installed('go', ['version']))) return toolMissing(t, 'go is not installed');
    const stdout = await runOk('go', 'go', ['run', writeProgram('paperguide-go/main.go', paperguide(PAPERGUIDE_GO))], { env: goEnv() });
    assert.equal(stdout, 'Response Status: 200 OK\n');
  });

  test('Ruby Net::HTTP, with TLS on as the page has it, prints the usage from Tollgate over HTTPS', async (t) => {
    if (!(await installed('ruby', ['--version']))) return toolMissing(t, 'ruby is not installed');
    if (!runs('openssl', ['version'])) return toolMissing(t, 'openssl is not installed (it makes the test CA)');
    // The page sets use_ssl = true: Tollgate serves HTTPS itself, with a certificate for 127.0.0.1 from a test CA.
    const ca = TestCa.create(mkdtempSync(join(workDir, 'ca-')));
    const certificate = ca.issue('tollgate');
    const httpsServer = await startTestServer({ clock: new ManualClock(CALL_TIME), config: { tlsCert: certificate.certPath, tlsKey: certificate.keyPath } });
    t.after(() => httpsServer.close());
    assert.match(httpsServer.url, /^https:\/\//);
    const dispatcher = trustingAgent(ca.pem);
    t.after(() => dispatcher.close());
    const httpsCustomer = await customerWithCalls(adminClient(httpsServer.url, ADMIN_TOKEN, dispatcher));
    const program = paperguide(PAPERGUIDE_RUBY, 'YOUR_API_KEY', { url: httpsServer.url, key: httpsCustomer.key });
    assert.ok(program.includes('http.use_ssl = true'));
    // Ruby's OpenSSL trusts the CAs SSL_CERT_FILE names, as a machine that trusts the provider's CA would.
    const stdout = await runOk('ruby', 'ruby', [writeProgram('paperguide/example.rb', program)], { env: { SSL_CERT_FILE: ca.certPath } });
    assertCurrentUsage(JSON.parse(stdout));
  });
});

describe('the error shapes of the seed pages', () => {
  const ocrUsageQuery = '/v3/ocr-usage?from_date=2021-01-01T00%3A00%3A00.000Z&to_date=2021-01-02T00%3A00%3A00.000Z&group_by=usage_type';

  function assertError(res: { status: number; body: unknown }, status: number, error: string, message?: RegExp): void {
    assert.equal(res.status, status, JSON.stringify(res.body));
    const body = res.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['error', 'message'], JSON.stringify(body));
    assert.equal(body.error, error);
    assert.equal(typeof body.message, 'string');
    assert.notEqual(body.message, '');
    if (message) assert.match(body.message as string, message);
  }

  test('GET /v1/usage with a wrong or missing key: 401 unauthorized', async () => {
    assertError(await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': 'pg_api_example_9xmk7q2r' } }), 401, 'unauthorized');
    assertError(await request(`${server.url}/v1/usage`), 401, 'unauthorized');
  });

  test('GET /v3/ocr-usage with a wrong app_key or an app_id the key is not for: 401 unauthorized', async () => {
    assertError(await request(`${server.url}${ocrUsageQuery}&timespan=month`, { headers: { app_id: customer.appId, app_key: 'APP_KEY' } }), 401, 'unauthorized');
    assertError(await request(`${server.url}${ocrUsageQuery}&timespan=month`, { headers: { app_id: 'APP_ID', app_key: customer.key } }), 401, 'unauthorized');
  });

  test('an unknown timespan: 400 invalid_request naming the parameter', async () => {
    const res = await request(`${server.url}${ocrUsageQuery}&timespan=fortnight`, { headers: { app_id: customer.appId, app_key: customer.key } });
    assertError(res, 400, 'invalid_request', /timespan/);
  });

  test('the page\'s URL taken literally (…usage_type×pan=month): 400 invalid_request naming group_by, not a silent default', async () => {
    const res = await request(`${server.url}${ocrUsageQuery}×pan=month`, { headers: { app_id: customer.appId, app_key: customer.key } });
    assertError(res, 400, 'invalid_request', /group_by/);
  });

  test('over the per-minute limit: 429 rate_limited', async () => {
    const admin = adminClient(server.url);
    const limited = await setupCustomer(admin, { monthlyQuota: 10, ratePerMinute: 2 });
    const headers = { 'x-api-key': limited.key };
    for (let i = 0; i < 2; i++) assert.equal((await request(`${server.url}/v1/usage`, { headers })).status, 200);
    assertError(await request(`${server.url}/v1/usage`, { headers }), 429, 'rate_limited');
  });
});
