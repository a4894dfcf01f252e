// Types for scripts/build.mjs (plain JavaScript so `npm run build` and `npm start` need no TypeScript loader).
export declare const ROOT: string;
export declare const SOURCE_DIRS: string[];
export declare const BUILD_INPUTS: string[];
export declare const STAMP: string;
export declare function filesUnder(dir: string): string[];
export declare function build(outDir?: string): { outDir: string; assets: number };
export declare function staleReason(outDir?: string): string | null;
