/** JSONC (JSON with comments), for the files operators write: config.jsonc,
 * provider drop-ins, probe corpora. jsonc-parser's parser module, not its
 * main entry: the main entry also brings the formatter, whose module body
 * builds ~1,200 indentation strings, ~0.8 ms of every start-up that loads
 * the command table (a no-op `relink` after every package transaction
 * included; bench/README.md). Deno maps this specifier to the package's main
 * entry (deno.json): the parser module's own imports carry no file
 * extension, which Deno's npm resolution refuses. */
import { parse, stripComments } from "jsonc-parser/lib/esm/impl/parser.js";
import type { ParseError, ParseErrorCode } from "jsonc-parser";

export { parse, stripComments, type ParseError };

/** ParseErrorCode 1–16 by name, as the main entry's printParseErrorCode
 * words them (tests/unit/jsonc.test.ts holds the two equal). */
const ERROR_NAMES = [
  "InvalidSymbol", "InvalidNumberFormat", "PropertyNameExpected", "ValueExpected", "ColonExpected", "CommaExpected",
  "CloseBraceExpected", "CloseBracketExpected", "EndOfFileExpected", "InvalidCommentToken", "UnexpectedEndOfComment",
  "UnexpectedEndOfString", "UnexpectedEndOfNumber", "InvalidUnicode", "InvalidEscapeCharacter", "InvalidCharacter",
] as const;

/** The name of a parse error, as jsonc-parser's printParseErrorCode gives it. */
export function printParseErrorCode(code: ParseErrorCode): string {
  return ERROR_NAMES[(code as number) - 1] ?? "<unknown ParseErrorCode>";
}
