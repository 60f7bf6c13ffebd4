export * from './client';
export * from './errors';
export { buildUploadEntities, isGuid } from './entities';
export { forgetMsalApps } from './msal';
