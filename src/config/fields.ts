// zod fields that several config blocks share.
import { z } from "zod";

export const nonEmpty = z.string().trim().min(1, "must not be empty");

/** Group fields compared with a mapping's `match` (a provider's `matchGroupsBy`, a group's `matchOn`). */
export const matchFields = z.array(nonEmpty).min(1);
