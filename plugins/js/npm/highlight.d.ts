declare module "main" {
  export function highlight(): I32;
}
