/** Roots a test file makes and removes when it is done: `const newRoot =
 * rootPool()` instead of a list, a push and an afterAll in every file. */
import { afterAll } from "bun:test";
import { coreutilsRoot, removeRoot } from "./fakeroot.ts";

export interface RootPool<A extends unknown[]> {
  /** A fresh root. */
  (...a: A): string;
  /** Remove `root` (made some other way) with the others; returns it. */
  keep(root: string): string;
}

/** A maker of fresh roots (coreutilsRoot, or `make`), each removed after the
 * file's last test. */
export function rootPool<A extends unknown[] = Parameters<typeof coreutilsRoot>>(make: (...a: A) => string = coreutilsRoot as unknown as (...a: A) => string): RootPool<A> {
  const roots: string[] = [];
  afterAll(() => roots.forEach(removeRoot));
  const keep = (root: string) => (roots.push(root), root);
  return Object.assign((...a: A) => keep(make(...a)), { keep });
}
