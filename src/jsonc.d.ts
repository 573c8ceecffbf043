declare module "*.jsonc" {
  const text: string;
  export default text;
}

/** jsonc-parser's parser module (src/config/jsonc.ts says why not the main
 * entry); the package ships types for its main entry only. */
declare module "jsonc-parser/lib/esm/impl/parser.js" {
  export { parse, stripComments } from "jsonc-parser";
}
