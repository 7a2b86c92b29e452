// Drop-in variant for bench/start-variants.mjs (never shipped): the drop-in line with nothing in it — what a
// blocking classic script first in <head> costs the host by being there.
window.matrixCryptoGuardian = { loading: false };
