declare module "*.jsonc" {
  const text: string;
  export default text;
}
