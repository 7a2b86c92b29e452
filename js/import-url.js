// Imports a module from a URL known only at run time (an explicit `forensicsUrl`, Node's own modules), left
// untouched by bundlers: the hints below tell webpack and Vite not to resolve it. This file is shipped as it
// is (the build minifies the others, which would drop the hints).
export const importUrl = (url) => import(/* webpackIgnore: true */ /* @vite-ignore */ String(url));
