declare module 'main' {
    export function visit(): I32;
}
