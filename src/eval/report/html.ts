/**
 * One self-contained HTML page per report: sections of text or tables (Markdown, rendered with
 * `marked`, or ready HTML) and figures, each PNG embedded as a data: URI and each SVG inline, so the
 * page can be mailed or archived alone. The figure files stay beside it for papers and slides.
 */
import { readFileSync } from 'node:fs';
import { marked } from 'marked';
import { InputError } from '../../errors.ts';
import { writeFileAtomic } from '../../output/atomic.ts';

export interface ReportImage {
  /** a .png or .svg file */
  readonly path: string;
  readonly caption: string;
}

export interface ReportSection {
  readonly heading: string;
  /** Markdown (tables in GitHub's pipe syntax) or, when it starts with "<", HTML used as it is */
  readonly markdownOrHtmlTable?: string;
  readonly images?: readonly ReportImage[];
}

export interface Report {
  readonly title: string;
  readonly sections: readonly ReportSection[];
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-variant-numeric:tabular-nums}th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
figure{margin:1.2em 0}figure img,figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em;margin-top:.3em}
footer{color:#888;font-size:.8em;margin-top:3em}`;

function embed(img: ReportImage): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(img.path);
  } catch {
    throw new InputError(
      img.path,
      'cannot be read for the report',
      'write the figure before building the report',
    );
  }
  const lower = img.path.toLowerCase();
  let body: string;
  if (lower.endsWith('.png'))
    body = `<img src="data:image/png;base64,${bytes.toString('base64')}" alt="${esc(img.caption)}">`;
  else if (lower.endsWith('.svg')) body = bytes.toString('utf8').replace(/^<\?xml[^>]*>\s*/, '');
  else throw new InputError(img.path, 'is neither .png nor .svg', 'give report figures as PNG or SVG files');
  return `<figure>${body}<figcaption>${esc(img.caption)}</figcaption></figure>`;
}

/** The page as a string. */
export function htmlReport(report: Report): string {
  const sections = report.sections.map((s) => {
    const text = s.markdownOrHtmlTable?.trim() ?? '';
    const body = text.startsWith('<')
      ? text
      : text
        ? (marked.parse(text, { async: false, gfm: true }) as string)
        : '';
    return `<section>\n<h2>${esc(s.heading)}</h2>\n${body}\n${(s.images ?? []).map(embed).join('\n')}\n</section>`;
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(report.title)}</h1>
${sections.join('\n')}
<footer>kneeseg report, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC</footer>
</body>
</html>
`;
}

/** Writes the page to `file` and returns it. */
export function writeHtmlReport(file: string, report: Report): string {
  const html = htmlReport(report);
  writeFileAtomic(file, html);
  return html;
}
