/** sayso.mjs: the same API as an ES module. Nothing is mounted until init() is called. */
import { init, setDefaultBase, startReplay, submit, uploadScreenshot, version } from './api';
import { baseFromScript } from './script';

// Served as {server}/widget/sayso.mjs: default to that server.
setDefaultBase(baseFromScript(import.meta.url, false));

export { init, startReplay, submit, uploadScreenshot, version };
export type * from './types';
export default { init, startReplay, submit, uploadScreenshot, version };
