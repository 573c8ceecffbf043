/** The planner: observations in, actions out. Pure — the executor does the I/O. */
import type { Applet } from "../providers/discover.ts";

/** What is at a target path now. */
export interface Observation {
  kind: "file" | "symlink" | "missing" | "other";
  linkText?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

export type ActionKind = "switch" | "already" | "skip";

export interface Action {
  applet: Applet;
  kind: ActionKind;
  reason?: string;
  observed: Observation;
}

export interface Refusal {
  target: string;
  reason: string;
}

export interface PlanInput {
  applets: Applet[];
  observe: (target: string) => Observation;
  /** Owner per target from the package database (null: unowned). */
  owners: Map<string, string | null>;
  /** Packages the provider replaces (owner must be one of them). */
  replaces: string[];
  /** Provider managing each target per state, if any. */
  managedBy: (target: string) => string | null;
  provider: string;
  /** Applets whose originals are setuid and whose replacement must be too. */
  setuidRequired: Set<string>;
  replacementIsSetuid: (linkTarget: string) => boolean;
}

export interface Plan {
  actions: Action[];
  refusals: Refusal[];
}

export function planEnable(input: PlanInput): Plan {
  const actions: Action[] = [];
  const refusals: Refusal[] = [];
  for (const applet of input.applets) {
    const observed = input.observe(applet.target);
    const other = input.managedBy(applet.target);
    if (other && other !== input.provider) {
      refusals.push({ target: applet.target, reason: `already switched by provider "${other}"; disable it first` });
      continue;
    }
    if (observed.kind === "symlink" && observed.linkText === applet.linkTarget) {
      actions.push({ applet, kind: "already", observed });
      continue;
    }
    if (observed.kind === "missing") {
      actions.push({ applet, kind: "skip", reason: "listed by the package database but missing on disk", observed });
      continue;
    }
    if (observed.kind === "other") {
      refusals.push({ target: applet.target, reason: "not a regular file or symlink" });
      continue;
    }
    const owner = input.owners.get(applet.target) ?? null;
    if (!owner || !input.replaces.includes(owner)) {
      refusals.push({ target: applet.target, reason: `owned by ${owner ?? "no package"}, expected ${input.replaces.join(" or ")}` });
      continue;
    }
    const setuid = ((observed.mode ?? 0) & 0o4000) !== 0;
    if ((setuid || input.setuidRequired.has(applet.applet)) && !input.replacementIsSetuid(applet.linkTarget)) {
      // Never link a setuid command (su, sudo) to a binary that is not setuid
      // root: the original stays, and the operation says why.
      actions.push({ applet, kind: "skip", reason: `original is setuid but replacement ${applet.linkTarget} is not setuid root; the original stays`, observed });
      continue;
    }
    actions.push({ applet, kind: "switch", observed });
  }
  return { actions, refusals };
}
