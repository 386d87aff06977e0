// esbuild bundles imported stylesheets into the entry's own .css file.
declare module '*.css';
