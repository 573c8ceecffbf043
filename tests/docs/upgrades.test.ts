/** docs/upgrades.md: every command block, run on a root in the state its
 * section describes (tests/docs/run.ts). */
import { docTests } from "./run.ts";

docTests("docs/upgrades.md");
