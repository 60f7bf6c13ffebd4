/**
 * RFC 9457 problem details (docs/http-contract.md, Conventions): every error the API answers is one of these,
 * `application/problem+json`, with `errors: [{ path, message }]` naming the offending fields.
 */
import type { Context } from 'hono';
import type { FieldError } from '../domain/validation';

export const PROBLEM_TYPE_BASE = 'https://azure-compliance-connector/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Seconds a client should wait before retrying when a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

const KINDS = {
  validation: { status: 400, title: 'The request is invalid' },
  'invalid-json': { status: 400, title: 'The request body is not valid JSON' },
  unauthorized: { status: 401, title: 'Missing or unknown API key' },
  forbidden: { status: 403, title: 'This API key may not use this route' },
  'not-found': { status: 404, title: 'Not found' },
  'device-retired': { status: 409, title: 'The device is retired' },
  'device-not-running': { status: 409, title: 'The device has no running workflow' },
  'tenant-exists': { status: 409, title: 'The tenant is registered already' },
  'tenant-offboarding': { status: 409, title: 'The tenant is being offboarded' },
  'tenant-configured': { status: 409, title: 'The tenant is configured in the environment, not registered' },
  'consent-state-invalid': { status: 400, title: 'The consent response does not match a consent link this connector issued' },
  'consent-state-used': { status: 409, title: 'This consent link was used already' },
  'payload-too-large': { status: 413, title: 'The request body is larger than 1 MiB' },
  'unsupported-media-type': { status: 415, title: 'The request body must be application/json' },
  internal: { status: 500, title: 'Internal error' },
  'service-unavailable': { status: 503, title: 'A dependency of the service is unavailable' },
} as const;

export type ProblemKind = keyof typeof KINDS;
export const PROBLEM_KINDS = Object.keys(KINDS) as ProblemKind[];

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldError[];
}

export function problem(kind: ProblemKind, detail: string, errors: FieldError[] = []): Problem {
  const { status, title } = KINDS[kind];
  return { type: `${PROBLEM_TYPE_BASE}${kind}`, title, status, detail, errors };
}

/** Thrown anywhere in a request; the one `onError` turns it into the response. */
export class ProblemError extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
    this.name = 'ProblemError';
  }
}

export const validationError = (detail: string, errors: FieldError[]): ProblemError =>
  new ProblemError(problem('validation', detail, errors));

export const notFound = (detail: string): ProblemError => new ProblemError(problem('not-found', detail));

export const deviceRetired = (deviceId: string): ProblemError =>
  new ProblemError(
    problem('device-retired', `Device "${deviceId}" is retired: only a registration event (which starts a new lifecycle) is accepted`),
  );

export function problemResponse(c: Context, p: Problem, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(p), p.status as 400, { ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE });
}
