import path from 'node:path';

/** The repository's root folder, whatever the working directory of the process. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');
