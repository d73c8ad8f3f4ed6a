/** CSS imports are bundled by esbuild into main.css. */
declare module '*.css';
