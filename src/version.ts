/** The tool version recorded in every operation (kept in step with package.json). */
export const VERSION = "0.4.3";
