// Warnings about secrets written in the file (issue 9 item 11): a client secret, a token, a
// webhook secret, or the password in a database or Redis URL that does not come through `${VAR}`.
// The file is often committed or shared; the environment is where secrets belong. A default
// (`${VAR:-dev-secret}`) counts as coming through `${VAR}`: it is a deliberate fallback, as in the
// sandbox example, and the variable is there to override it. A warning names the key path and its
// line, never the value.
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Scalar } from "yaml";
import type { Piece } from "./env.js";

export interface ConfigWarning {
  /** `FILE:LINE:COL: key.path: what`, ready to print. */
  message: string;
  keyPath: string;
  line: number | undefined;
  column: number | undefined;
}

type KeyPath = (string | number)[];

/** Key paths of the values that are secrets as a whole, and of the URLs that may hold a password. */
function secretPaths(doc: Document): { whole: KeyPath[]; urls: KeyPath[] } {
  const whole: KeyPath[] = [];
  const providers = doc.getIn(["providers"], true);
  if (isMap(providers)) {
    for (const pair of providers.items) {
      if (isScalar(pair.key)) {
        const name = String(pair.key.value);
        whole.push(["providers", name, "auth", "clientSecret"], ["providers", name, "auth", "token"]);
      }
    }
  }
  const sinks = doc.getIn(["events", "sinks"], true);
  if (isSeq(sinks)) {
    sinks.items.forEach((_sink, i) => whole.push(["events", "sinks", i, "secret"]));
  }
  return {
    whole,
    urls: [
      ["database", "url"],
      ["redis", "url"],
    ],
  };
}

export function plainTextSecrets(
  doc: Document,
  origins: ReadonlyMap<Scalar, Piece[]>,
  file: string,
  lineCounter: LineCounter,
  formatPath: (keyPath: KeyPath) => string,
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const check = (keyPath: KeyPath, span: (value: string) => [number, number] | undefined) => {
    const node = doc.getIn(keyPath, true);
    if (!isScalar(node) || typeof node.value !== "string") {
      return;
    }
    const value = node.value;
    const pieces: Piece[] = origins.get(node) ?? [{ from: "file", text: value }];
    const range = span(value);
    if (!range) {
      return;
    }
    const written = piecesIn(pieces, range).filter((p) => p.from === "file" && p.text.trim() !== "");
    if (written.length === 0) {
      return;
    }
    const what = "a secret written in plain text in the file; write ${VAR} and set VAR in the environment";
    const pos = node.range ? lineCounter.linePos(node.range[0]) : undefined;
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const shown = formatPath(keyPath);
    const part = span === everything ? "" : " (the password in this URL)";
    warnings.push({
      message: `${where}: ${shown}: ${what}${part}`,
      keyPath: shown,
      line: pos?.line,
      column: pos?.col,
    });
  };
  const { whole, urls } = secretPaths(doc);
  whole.forEach((p) => check(p, everything));
  urls.forEach((p) => check(p, urlPassword));
  return warnings;
}

function everything(value: string): [number, number] {
  return [0, value.length];
}

/** Offsets of the password in `scheme://user:password@host…`, if the URL has one. */
function urlPassword(value: string): [number, number] | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^@/?#]*)@/.exec(value);
  if (!m) {
    return undefined;
  }
  const userinfoStart = value.indexOf("//") + 2;
  const colon = m[1]!.indexOf(":");
  if (colon === -1 || colon === m[1]!.length - 1) {
    return undefined;
  }
  return [userinfoStart + colon + 1, userinfoStart + m[1]!.length];
}

/** The parts of the pieces that fall within [start, end) of their concatenation. */
function piecesIn(pieces: readonly Piece[], [start, end]: [number, number]): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const piece of pieces) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + piece.text.length);
    if (from < to) {
      out.push({ ...piece, text: piece.text.slice(from - at, to - at) });
    }
    at += piece.text.length;
  }
  return out;
}
