declare module "main" {
  export function shout(): I32;
}
