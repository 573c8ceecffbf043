/** The hook files pkgswitch installs. Their content is each package
 * manager's business, so it lives with the backends (src/pkgmgr/hooks.ts);
 * this module gives the rest of the tree the manager-neutral view. */
export { HOOK_PATHS, MARKER, hookFilesFor, packageNamesFromLines, type HookFile } from "../pkgmgr/hooks.ts";
