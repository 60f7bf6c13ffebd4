/**
 * The cron expressions a tenant may set for its Schedules (PUT /v1/settings `reconciliation.cron`):
 * five numeric fields, minute hour day-of-month month day-of-week, each `*`, a value, a range, a list
 * of them, or any of those with a `/step`. Temporal reads the same syntax; refusing anything else here
 * means a bad value is a 400 naming the field, never a Schedule the server rejects later.
 */
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

/** Why the expression is refused, or null when it is valid. */
export function cronProblem(expression: string): string | null {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) return `must have 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`;
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i]!;
    for (const item of part.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${field.name}: "${item}" is not *, a number, a range or a step`;
      const [, , from, to, step] = m;
      for (const n of [from, to]) {
        if (n !== undefined && (Number(n) < field.min || Number(n) > field.max)) {
          return `${field.name}: ${n} is outside ${field.min}-${field.max}`;
        }
      }
      if (from !== undefined && to !== undefined && Number(from) > Number(to)) return `${field.name}: range ${from}-${to} is reversed`;
      if (step !== undefined && Number(step) === 0) return `${field.name}: a step must be at least 1`;
    }
  }
  return null;
}
