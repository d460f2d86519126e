// Text encodings for the bulk statements: PostgreSQL array literals and COPY's text format.

/** A text[] literal: every element double-quoted, `"` and `\` escaped. `[]` (or null) is `{}`. */
export function arrayLiteral(values: readonly string[] | null | undefined): string {
  if (!values || values.length === 0) {
    return "{}";
  }
  let out = "{";
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    out += `${i === 0 ? "" : ","}"${/["\\]/.test(v) ? v.replace(/["\\]/g, "\\$&") : v}"`;
  }
  return `${out}}`;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One field of COPY's text format: `\N` for null; backslash, tab, newline and CR escaped. */
export function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) {
    return "\\N";
  }
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : value;
}

/** One row of COPY's text format, newline included. */
export function copyRow(values: readonly (string | null | undefined)[]): string {
  let plain = true;
  for (const v of values) {
    if (v !== null && v !== undefined && COPY_SPECIAL.test(v)) {
      plain = false;
      break;
    }
  }
  if (plain) {
    return `${values.map((v) => v ?? "\\N").join("\t")}\n`;
  }
  return `${values.map(copyField).join("\t")}\n`;
}
