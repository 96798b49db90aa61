// Durations in the config: a number is milliseconds, as it always was; a string is a
// whole number and one unit, as operators write them elsewhere (systemd, kubectl,
// sshd_config): "500ms", "30s", "10m", "2h", "1d". One unit only ("1h30m" is "90m"),
// and no fractions, so each value has one obvious reading.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The string form as a JSON Schema pattern (the schema publishes it; the loader matches it). */
export const DURATION_PATTERN = '^[0-9]{1,15}(ms|s|m|h|d)$';

/** The accepted forms, for messages and descriptions. */
export const DURATION_FORMS = 'milliseconds as a number, or a string like "500ms", "30s", "10m", "2h" or "1d"';

/** Milliseconds for a duration string, or null when it is not one. */
export function parseDuration(s: string): number | null {
  const m = new RegExp(DURATION_PATTERN, 'u').exec(s);
  return m === null ? null : Number(s.slice(0, -m[1]!.length)) * UNITS[m[1]!]!;
}
