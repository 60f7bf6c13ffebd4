import { strict as assert } from 'node:assert';
import { deviceErrorFor, FAILURE_GUIDANCE, FAILURE_REASONS, isFailureReason, isRetryableReason } from '../../domain/failure-reasons';

describe('failure reasons (the one vocabulary of failed reports)', () => {
  it('has guidance for exactly the reasons of the vocabulary', () => {
    assert.deepEqual(Object.keys(FAILURE_GUIDANCE).sort(), [...FAILURE_REASONS].sort());
    assert.equal(new Set(FAILURE_REASONS).size, FAILURE_REASONS.length);
  });

  it('recognises its own reasons and nothing else', () => {
    for (const r of FAILURE_REASONS) assert.equal(isFailureReason(r), true, r);
    for (const x of ['AzureTransient', 'AzureUnauthorized', 'transient', '', undefined, null, 7, {}])
      assert.equal(isFailureReason(x), false, String(x));
  });

  it('builds the lastError of a failed report from the reason, the message and its guidance', () => {
    assert.deepEqual(deviceErrorFor('DeviceNotFound', 'Entra ID has no device d-1'), {
      code: 'DeviceNotFound',
      message: 'Entra ID has no device d-1',
      userCanMitigate: true,
      remediation:
        'Entra ID does not know this device ID: have the user register the device again in Microsoft Authenticator. This attempt ends as Failed: the report is sent again on the next change, sync or weekly report (a retire is sent again until Microsoft confirms it).',
    });
    const userCanMitigate = FAILURE_REASONS.filter((r) => FAILURE_GUIDANCE[r].userCanMitigate);
    assert.deepEqual(userCanMitigate, ['DeviceNotFound', 'DeletedInEntra']);
  });

  it('tells a retried failure from a permanent one in its remediation', () => {
    for (const r of FAILURE_REASONS) {
      const { remediation } = FAILURE_GUIDANCE[r];
      if (isRetryableReason(r)) {
        assert.ok(
          remediation.includes(
            'sends the report again with backoff until Microsoft confirms it or a newer state of the device supersedes it',
          ),
          r,
        );
        assert.ok(!remediation.includes('ends as Failed'), r);
      } else if (r === 'DeletedInEntra') {
        // Not sent again by itself: only the MDM's next event (or an admin's sync) sends it again.
        assert.match(remediation, /sends nothing for it \(no weekly report, no resync\) until the MDM sends its next event/);
      } else {
        assert.ok(
          remediation.endsWith(
            'This attempt ends as Failed: the report is sent again on the next change, sync or weekly report (a retire is sent again until Microsoft confirms it).',
          ),
          r,
        );
      }
    }
  });

  it('says what happened, never "could not be reached": a 401 is a refused token, 5xx and timeouts are named', () => {
    for (const r of FAILURE_REASONS) assert.ok(!/could not be reached/i.test(FAILURE_GUIDANCE[r].remediation), r);
    assert.match(FAILURE_GUIDANCE.Unauthorized.remediation, /^Microsoft refused the connector's access token \(HTTP 401\)/);
    assert.match(
      FAILURE_GUIDANCE.Transient.remediation,
      /^Microsoft was unavailable or did not answer in time \(an HTTP 5xx, a timeout or a network error/,
    );
    assert.match(FAILURE_GUIDANCE.Throttled.remediation, /^Microsoft throttled the connector \(HTTP 429, or 503 with Retry-After\)/);
    assert.match(FAILURE_GUIDANCE.StatusTimeout.remediation, /^Microsoft accepted the report but had not finished processing it in time/);
  });
});
