/** A package-manager run on a throwaway root as if the root were a chroot
 * without /proc (a rescue chroot): in a private mount namespace where
 * <root>/proc is an empty tmpfs, so the root's own proc mount (when a test
 * made one) and the host's stay as they are for everything else. */

/** Needs unshare and root (mount namespaces, mount). */
export const canUnshare = Bun.which("unshare") !== null && process.getuid?.() === 0;

export function withoutProc(root: string, argv: string[]): string[] {
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none "$0/proc" && exec "$@"', root, ...argv];
}
