declare module "main" {
  export function setState(): I32;
  export function render(): I32;
}
