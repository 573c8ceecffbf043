import { join, resolve } from "node:path";

/** Project root (this file is tests/helpers/paths.ts). */
export const PROJECT = resolve(import.meta.dir, "../..");
/** ../shared/vectors beside the project root. */
export const VECTORS = resolve(PROJECT, "../shared/vectors");
export const BINARY = join(PROJECT, "dist/pkgswitch");
