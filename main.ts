#!/usr/bin/env bun
/** pkgswitch: argv → command → exit code (nothing else lives here). */
import { runProcess } from "./src/cli/main.ts";

await runProcess(process.argv.slice(2));
