/** src/config/jsonc.ts against jsonc-parser's main entry (the reference):
 * the same parser, and the same name for every parse error code. */
import { expect, test } from "bun:test";
import * as reference from "jsonc-parser";
import { parse, printParseErrorCode, stripComments, type ParseError } from "../../src/config/jsonc.ts";

test("every parse error code has the main entry's name", () => {
  for (let code = -1; code <= 20; code++) expect(printParseErrorCode(code as reference.ParseErrorCode)).toBe(reference.printParseErrorCode(code as reference.ParseErrorCode));
});

test("documents parse as the main entry parses them, errors included", () => {
  const docs = ['{"a": 1, /* c */ "b": [1, 2,], // x\n}', "{", '{"a" 1}', "[1 2]", '"\\x"', "1e", "/* open", '{"a": tru}', "", "// only a comment", '{"a": "\u0000"}'];
  let errors = 0;
  for (const text of docs) {
    const ours: ParseError[] = [];
    const theirs: reference.ParseError[] = [];
    expect(parse(text, ours, { allowTrailingComma: true })).toEqual(reference.parse(text, theirs, { allowTrailingComma: true }));
    expect(ours).toEqual(theirs);
    expect(ours.map((e) => printParseErrorCode(e.error))).toEqual(theirs.map((e) => reference.printParseErrorCode(e.error)));
    expect(stripComments(text)).toBe(reference.stripComments(text));
    errors += ours.length;
  }
  expect(errors).toBeGreaterThan(5);
});
