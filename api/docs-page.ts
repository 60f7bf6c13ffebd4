/**
 * `GET /docs`: the OpenAPI document rendered server-side as one self-contained HTML page (no scripts,
 * no CDN), so it works offline and behind strict proxies.
 */

type Json = unknown;
interface Doc {
  info?: { title?: string; version?: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Json>; securitySchemes?: Record<string, Json> };
}
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: Json }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Json }> }>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

const anchor = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-');

/** JSON with `$ref`s turned into links to the component's section. */
function schemaHtml(schema: Json): string {
  const text = JSON.stringify(schema, null, 2) ?? 'null';
  return escapeHtml(text).replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g,
    (_m, name: string) => `&quot;<a href="#schema-${anchor(name)}">#/components/schemas/${escapeHtml(name)}</a>&quot;`,
  );
}

function typeOf(schema: Json): string {
  if (schema && typeof schema === 'object') {
    const s = schema as Record<string, unknown>;
    if (typeof s.$ref === 'string') return s.$ref.split('/').pop() ?? 'object';
    if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    if (typeof s.type === 'string') return s.type + (typeof s.format === 'string' ? ` (${s.format})` : '');
    if (Array.isArray(s.type)) return s.type.join(' | ');
  }
  return '';
}

function operationHtml(path: string, method: string, op: Operation): string {
  const id = anchor(`${method}-${path}`);
  const roles = (op.security ?? []).flatMap((s) => Object.keys(s));
  const parts: string[] = [];
  parts.push(
    `<section class="op" id="${id}"><h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>`,
  );
  if (op.summary) parts.push(`<p class="summary">${escapeHtml(op.summary)}</p>`);
  if (op.description) parts.push(`<p>${escapeHtml(op.description)}</p>`);
  parts.push(
    `<p class="auth">${roles.length ? `Auth: ${roles.map((r) => `<code>${escapeHtml(r)}</code>`).join(', ')}` : 'No authentication'}</p>`,
  );
  if (op.parameters?.length) {
    parts.push('<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>');
    for (const p of op.parameters) {
      parts.push(
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${escapeHtml(typeOf(p.schema))}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(
          p.description ?? (p.schema as { description?: string } | undefined)?.description ?? '',
        )}</td></tr>`,
      );
    }
    parts.push('</table>');
  }
  if (op.requestBody?.content) {
    for (const [type, media] of Object.entries(op.requestBody.content)) {
      parts.push(
        `<details><summary>Request body <code>${escapeHtml(type)}</code>${op.requestBody.required ? '' : ' (optional)'}</summary><pre>${schemaHtml(media.schema)}</pre></details>`,
      );
    }
  }
  parts.push('<ul class="responses">');
  for (const [code, res] of Object.entries(op.responses ?? {})) {
    const types = Object.entries(res.content ?? {});
    const body = types.length
      ? types
          .map(([t, m]) => `<details><summary><code>${escapeHtml(t)}</code></summary><pre>${schemaHtml(m.schema)}</pre></details>`)
          .join('')
      : '';
    parts.push(`<li><b>${escapeHtml(code)}</b> ${escapeHtml(res.description ?? '')}${body}</li>`);
  }
  parts.push('</ul></section>');
  return parts.join('\n');
}

const CSS = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
main{max-width:1000px;margin:0 auto;padding:1.5rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre{background:#f1f3f5;padding:.75rem;overflow:auto;border-radius:4px}
.op{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:3.5rem;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:2px 4px}
.m-get{background:#1f6feb}.m-post{background:#2da44e}.m-put{background:#bf8700}.m-delete{background:#cf222e}.m-patch{background:#8250df}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:2px 8px;text-align:left;vertical-align:top}
.summary{font-weight:600}.auth{color:#57606a}ul.toc{columns:2}
`;

export function renderDocsPage(doc: Doc): string {
  const title = doc.info?.title ?? 'API';
  const ops: Array<[string, string, Operation]> = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) ops.push([path, method, op]);
    }
  }
  const toc = ops
    .map(
      ([p, m, op]) =>
        `<li><a href="#${anchor(`${m}-${p}`)}"><code>${m.toUpperCase()} ${escapeHtml(p)}</code></a> ${escapeHtml(op.summary ?? '')}</li>`,
    )
    .join('\n');
  const schemes = Object.entries(doc.components?.securitySchemes ?? {})
    .map(([name, s]) => `<li><code>${escapeHtml(name)}</code>: <code>${escapeHtml(JSON.stringify(s))}</code></li>`)
    .join('\n');
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, s]) => `<section id="schema-${anchor(name)}"><h3>${escapeHtml(name)}</h3><pre>${schemaHtml(s)}</pre></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<p>Version ${escapeHtml(doc.info?.version ?? '')} · <a href="/openapi.json">openapi.json</a> (OpenAPI 3.1)</p>
${doc.info?.description ? `<p>${escapeHtml(doc.info.description)}</p>` : ''}
<h2>Authentication</h2><ul>${schemes}</ul>
<h2>Routes</h2><ul class="toc">${toc}</ul>
${ops.map(([p, m, op]) => operationHtml(p, m, op)).join('\n')}
<h2>Schemas</h2>
${schemas}
</main></body></html>`;
}
