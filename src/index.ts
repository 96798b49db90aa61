// warren as a library. The broker (createBroker) arrives with the daemon; what is
// here now is what callers can already rely on.
export { WarrenError, UsageError, UnquotableArgumentError, isWarrenError, type ErrorCode } from './errors.js';
export { quoteArg, quoteCommand } from './ssh/quote.js';
export { warrenVersion } from './version.js';
