/**
 * The API describing itself, without auth (docs/http-contract.md): /openapi.json, the OpenAPI 3.1
 * document generated from the routes' own zod schemas, and /docs, that document rendered as a page.
 */
import { z } from '@hono/zod-openapi';
import type { App } from '../context';
import { renderDocsPage } from '../docs-page';

const tags = ['Operations'];

export function registerDocsRoutes(app: App, openApiDocument: () => object): void {
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags,
    summary: 'This OpenAPI 3.1 document',
    responses: {
      200: { description: 'The document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
    },
  });
  app.get('/openapi.json', (c) => c.json(openApiDocument()));

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/docs',
    tags,
    summary: 'The OpenAPI document rendered as a page',
    responses: { 200: { description: 'A self-contained HTML page', content: { 'text/html': { schema: z.string() } } } },
  });
  let page: string | undefined;
  app.get('/docs', (c) => {
    page ??= renderDocsPage(openApiDocument() as Parameters<typeof renderDocsPage>[0]);
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    return c.html(page);
  });
}
