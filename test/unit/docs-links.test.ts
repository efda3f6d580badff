import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The README is the way in and docs/ holds the reference it links to: a
// section moved from one page to another must not leave a link behind that
// leads nowhere. Links are checked as GitHub renders them: a relative path
// must name a file or directory of the repository, and an #anchor a heading
// of the page it points into.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The Markdown pages whose links are checked: the README, ARCHITECTURE.md, SECURITY.md and every page in docs/. */
function pages(root: string): string[] {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`) : [];
  return ['README.md', 'ARCHITECTURE.md', 'SECURITY.md', ...docs].filter((f) => existsSync(join(root, f)));
}

/** Each line of a page with what GitHub renders as text: fenced code blocks blanked, so that a `# comment` in one is no heading and a `[x](y)` no link. */
function proseLines(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker !== undefined) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return '';
    }
    return line;
  });
}

/**
 * GitHub's anchor for a heading's text: the text as rendered (links by their
 * text, code without its backticks, emphasis and tags dropped), lower-cased,
 * everything but letters, marks, digits, `_`, `-` and spaces removed, each
 * space a hyphen.
 */
function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`+/g, '');
  return rendered.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor a page has: its headings' slugs, a repeated one suffixed -1, -2… as GitHub does. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(markdown)) {
    const text = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The link targets of a page, with their line numbers: inline links and images, and reference definitions. */
function links(markdown: string): Array<{ line: number; target: string }> {
  const result: Array<{ line: number; target: string }> = [];
  proseLines(markdown).forEach((text, i) => {
    // A code span is shown as it is: `[0](x)` in one is no link.
    const line = text.replace(/(`+)[\s\S]*?\1/g, 'code');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) result.push({ line: i + 1, target: m[1]! });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) result.push({ line: i + 1, target: definition[1]! });
  });
  return result;
}

/** What is wrong with the relative links of the given pages, one line each (`file:line: target: why`); empty when nothing is. */
function brokenLinks(root: string, files: string[]): string[] {
  const problems: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchorsIn = (file: string) => {
    if (!anchorsOf.has(file)) anchorsOf.set(file, anchors(readFileSync(join(root, file), 'utf8')));
    return anchorsOf.get(file)!;
  };
  for (const file of files) {
    for (const { line, target } of links(readFileSync(join(root, file), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // https:, mailto:…: not ours to check
      const where = `${file}:${line}: ${target}`;
      const hash = target.indexOf('#');
      const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
      const absolute = path === '' ? join(root, file) : path.startsWith('/') ? join(root, path) : resolve(root, dirname(file), path);
      const inRepo = relative(root, absolute).split('\\').join('/');
      if (inRepo === '..' || inRepo.startsWith('../')) {
        problems.push(`${where}: leads out of the repository`);
        continue;
      }
      if (!existsSync(absolute)) {
        problems.push(`${where}: no such file or directory`);
        continue;
      }
      if (anchor === null) continue;
      if (!statSync(absolute).isFile() || !inRepo.endsWith('.md')) {
        problems.push(`${where}: an anchor into something that is not a Markdown page`);
      } else if (!anchorsIn(inRepo).has(anchor)) {
        problems.push(`${where}: ${inRepo} has no heading with the anchor #${anchor}`);
      }
    }
  }
  return problems;
}

describe('links between the README, SECURITY.md and docs/', () => {
  test("anchors are GitHub's: rendered text, lower case, punctuation dropped, spaces as hyphens, repeats numbered", () => {
    assert.equal(slug('`POST /v1/check`'), 'post-v1check');
    assert.equal(slug('Strict and relaxed mode, and store outages'), 'strict-and-relaxed-mode-and-store-outages');
    assert.equal(slug('1. Nothing acknowledged is lost'), '1-nothing-acknowledged-is-lost');
    assert.equal(slug('The [dashboard](docs/dashboard.md) & its `/dashboard/api`'), 'the-dashboard--its-dashboardapi');
    assert.equal(slug('Prix réglés_en €'), 'prix-réglés_en-');
    assert.deepEqual([...anchors('# Tollgate\n\n```sh\n# a comment, no heading\n```\n## Errors\n### Errors ##\n## Errors\n')], ['tollgate', 'errors', 'errors-1', 'errors-2']);
  });

  test('a link to a missing file, a missing heading or out of the repository is reported; code and other sites are not links to check', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'tollgate-doc-links-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'docs'));
    mkdirSync(join(root, 'examples'));
    writeFileSync(join(root, 'SECURITY.md'), '# Security\n\nSee [the API](docs/api.md#failed-authentication).\n');
    writeFileSync(join(root, 'docs/api.md'), '# API\n\n## `POST /v1/check`\n\nBack to [the README](../README.md#five-minutes-with-curl), [errors](#errors).\n');
    writeFileSync(join(root, 'README.md'), [
      '# Tollgate', '', '## Five minutes with curl', '',
      '[check](docs/api.md#post-v1check), [examples](examples/), [site](https://example.com/#x), [mail](mailto:a@b.c), [top](#tollgate)',
      '[gone](docs/ingest.md), [moved](#configuration), [design](ARCHITECTURE.md), [up](../outside.md)',
      '`[not](a-link.md)`', '```md', '[not](a-link-either.md)', '```',
      '[ref]: docs/missing.md',
    ].join('\n'));
    assert.deepEqual(brokenLinks(root, pages(root)), [
      'README.md:6: docs/ingest.md: no such file or directory',
      'README.md:6: #configuration: README.md has no heading with the anchor #configuration',
      'README.md:6: ARCHITECTURE.md: no such file or directory',
      'README.md:6: ../outside.md: leads out of the repository',
      'README.md:11: docs/missing.md: no such file or directory',
      'SECURITY.md:3: docs/api.md#failed-authentication: docs/api.md has no heading with the anchor #failed-authentication',
      'docs/api.md:5: #errors: docs/api.md has no heading with the anchor #errors',
    ]);
  });

  test('every relative link and #anchor in README.md, SECURITY.md and docs/*.md leads to a file and a heading that exist', () => {
    const files = pages(ROOT);
    assert.ok(files.includes('README.md') && files.includes('SECURITY.md') && files.includes('docs/guarantees.md'), files.join(', '));
    assert.deepEqual(brokenLinks(ROOT, files), []);
  });

  test('each page in docs/ has one title, on its first line', () => {
    for (const file of pages(ROOT).filter((f) => f.startsWith('docs/'))) {
      const lines = proseLines(readFileSync(join(ROOT, file), 'utf8'));
      const titles = lines.flatMap((line, i) => (/^#\s/.test(line) ? [i + 1] : []));
      assert.deepEqual(titles, [1], `${file}: the lines of its level-1 headings`);
    }
  });

  test('the README links to every page in docs/', () => {
    const readme = links(readFileSync(join(ROOT, 'README.md'), 'utf8')).map(({ target }) => target.split('#')[0]);
    const unlinked = pages(ROOT).filter((f) => f.startsWith('docs/') && !readme.includes(f));
    assert.deepEqual(unlinked, [], 'pages in docs/ the README does not link to');
  });
});
