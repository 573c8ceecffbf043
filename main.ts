#!/usr/bin/env bun
/** pkgswitch: argv → command → exit code (nothing else lives here). */
import { main } from "./src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
