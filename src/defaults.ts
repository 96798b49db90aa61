// Defaults that two layers must agree on and neither may import from the other: the
// config schema publishes them, the ssh layer uses them when a caller gives none.

/** warren's keepalive probe: with these, a frozen peer is noticed within interval + timeout = 2.8 s. */
export const KEEPALIVE_DEFAULTS = { intervalMs: 1000, timeoutMs: 1800 } as const;
