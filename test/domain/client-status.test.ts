import assert from 'node:assert/strict';
import { CLIENT_STATUS_CODES, isClientStatusCode, type ClientStatusCode } from '../../domain/constants';
import { CLIENT_STATUS_DESCRIPTIONS, clientStatusError, clientStatusGuidance } from '../../domain/client-status';

// Who can mitigate each code (docs/product-rules.md, Client status codes).
const USER_CAN_MITIGATE: Record<ClientStatusCode, boolean> = {
  Success: false,
  Internal_Error: false,
  Workplace_Join_Required: true,
  Interaction_Required: true,
  Server_Declined_Scopes: false,
  Server_Protection_Policies_Required: false,
  User_Canceled: true,
  Account_logged_out: true,
};

// The seed document's wording (Table 3).
const SEED: Record<ClientStatusCode, string> = {
  Success: 'Able to retrieve device ID.',
  Internal_Error: 'An unrecoverable error occurred either within the client or on server side.',
  Workplace_Join_Required: 'Registration of device required. Device user can mitigate this status.',
  Interaction_Required: 'An interactive log-in is required. Device user can mitigate this status.',
  Server_Declined_Scopes: 'Some scopes were not granted access to.',
  Server_Protection_Policies_Required: 'The requested resource is protected by an Intune Conditional Access policy.',
  User_Canceled: 'The device user cancelled the web Auth session by tapping the "Done" or "Cancel" button in the web browser.',
  Account_logged_out: 'Account logged out.',
};

// What each remediation must point at.
const REMEDIATION_MENTIONS: Record<Exclude<ClientStatusCode, 'Success'>, RegExp[]> = {
  Internal_Error: [/support/i, /logs/i],
  Workplace_Join_Required: [/register/i, /Microsoft Authenticator/],
  Interaction_Required: [/sign in again/i],
  Server_Declined_Scopes: [/consent/i, /permissions/i],
  Server_Protection_Policies_Required: [/app protection/i, /Conditional Access/],
  User_Canceled: [/repeat the sign-in/i, /complete/i],
  Account_logged_out: [/sign back in/i],
};

describe('domain/client-status', () => {
  it('lists the 8 client status codes in the order of the contract', () => {
    assert.deepEqual(
      [...CLIENT_STATUS_CODES],
      [
        'Success',
        'Internal_Error',
        'Workplace_Join_Required',
        'Interaction_Required',
        'Server_Declined_Scopes',
        'Server_Protection_Policies_Required',
        'User_Canceled',
        'Account_logged_out',
      ],
    );
  });

  it('Success needs no remediation and is no error', () => {
    assert.deepEqual(clientStatusGuidance('Success'), { userCanMitigate: false, remediation: '' });
    assert.equal(clientStatusError('Success'), null);
  });

  for (const code of CLIENT_STATUS_CODES.filter((c): c is Exclude<ClientStatusCode, 'Success'> => c !== 'Success')) {
    const who = USER_CAN_MITIGATE[code] ? 'the device user can mitigate' : 'needs an admin or support';
    it(`${code}: ${who}, with a concrete remediation`, () => {
      const guidance = clientStatusGuidance(code);
      assert.equal(guidance.userCanMitigate, USER_CAN_MITIGATE[code]);
      assert.ok(guidance.remediation.length > 20, 'remediation is a sentence');
      for (const mention of REMEDIATION_MENTIONS[code]) assert.match(guidance.remediation, mention);
    });

    it(`${code}: lastError carries the code, the seed's description and the guidance`, () => {
      assert.deepEqual(clientStatusError(code), {
        code,
        message: SEED[code],
        userCanMitigate: USER_CAN_MITIGATE[code],
        remediation: clientStatusGuidance(code).remediation,
      });
    });
  }

  it('describes every code in the words of the seed', () => {
    assert.deepEqual(CLIENT_STATUS_DESCRIPTIONS, SEED);
  });

  it('recognises exactly the 8 codes', () => {
    for (const code of CLIENT_STATUS_CODES) assert.equal(isClientStatusCode(code), true);
    for (const other of ['success', 'User_Cancelled', '', null, 3]) assert.equal(isClientStatusCode(other), false);
  });
});
