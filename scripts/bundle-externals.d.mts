// Declarations of bundle-externals.mjs for the TypeScript that imports it (the test set-up).
export declare const EXTERNAL: string[];
export declare const REQUIRE_BANNER: string;
