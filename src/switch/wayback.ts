/** The way back from a switch that needs none of the switched commands,
 * named in the plan before anything is switched: pkgswitch itself restores
 * every original with file APIs only (it never runs rm, cp, ln), and a
 * BusyBox binary in the root, when there is one and it is not switched,
 * gives a shell with its own applets. */
import { BIN_DIRS } from "../config/paths.ts";
import { executableInfo } from "./observe.ts";

export function wayBack(root: string, provider: string, switched: string[]): string[] {
  const ways = [`pkgswitch disable ${provider} (runs none of the switched commands)`];
  const taken = new Set(switched);
  const busybox = BIN_DIRS.map((d) => `${d}/busybox`).find((b) => !taken.has(b) && executableInfo(root, b).executable);
  if (busybox) ways.push(`${busybox} (its own applets: \`${busybox} sh\`, \`${busybox} cp\`, …)`);
  return ways;
}
