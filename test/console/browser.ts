/**
 * Real Chromium from the system (Debian's `chromium` package, never a downloaded browser) driven by
 * playwright-core, and what the console tests do with it: sign in, run axe-core, take screenshots.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.resolve(__dirname, '..', 'artifacts');

export const WIDE = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export async function newContext(browser: Browser, baseURL: string, viewport = WIDE): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport, acceptDownloads: true, timezoneId: 'Europe/Paris', locale: 'en-GB' });
}

/** Signs in through the form; resolves on the page the console lands on. */
export async function signIn(page: Page, key: string, path_ = '/console'): Promise<number> {
  await page.goto(path_);
  await page.fill('#key', key);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/console/sign-in') && r.request().method() === 'POST'),
    page.click('button[type=submit]:has-text("Sign in")'),
  ]);
  await page.waitForLoadState();
  return response.status();
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core (from npm) injected into the page; the violations of impact serious or critical. */
export async function seriousViolations(
  page: Page,
): Promise<Array<{ id: string; impact: string | null; help: string; targets: string[] }>> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not restrict.
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `console-${name}-${page.viewportSize()?.width ?? 0}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Reloads the page until `probe` holds (a page that changes as the workers report). */
export async function reloadUntil<T>(
  page: Page,
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on ${page.url()}`);
    await new Promise((r) => setTimeout(r, 300));
    await page.reload();
  }
}
