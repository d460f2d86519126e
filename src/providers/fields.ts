// Small readers of untyped provider JSON, shared by the connectors' normalisers.

/** A trimmed, non-empty string (a finite number becomes its decimal text); anything else is undefined. */
export function text(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) {
    return String(value);
  }
  if (typeof value !== "string") {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

/** The value as a plain object (not null, not an array), or undefined. */
export function object(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
