// Generated from the storm watch's model (src/storm/idle.rs); `cargo test -p matrix-crypto-guardian idle`
// checks it, and `MCG_WRITE_IDLE=1` with that command rewrites it. Do not edit.
/** `guardian.storm()` before any keys/upload: nothing seen, the breaker closed. */
export const QUIET_STORM = {"active":false,"breaker":{"backoffMs":null,"cause":null,"failingKeyIds":[],"fingerprint":null,"localAnswers":0,"nextProbeAt":null,"probes":0,"serverConflicts":0,"since":null,"state":"closed"},"conflict":null,"count":0,"diagnosis":{"kind":"undetermined","reason":"no conflict seen"},"firstSeen":null,"keyIds":[]};
/** `guardian.otkHealth()` before any keys/upload: healthy, no figures yet. */
export const QUIET_OTK_HEALTH = {"figures":{"acceptedUploads":0,"deviceCapacity":100,"firstUploadAt":null,"heldAtLimit":null,"keysUploaded":0,"lastUploadAt":null,"limit":null,"limitRejections":0,"peakServerCount":null,"sdkTarget":50,"serverCount":null,"uploadsPerHour":null},"kind":"healthy","reason":"the server holds ? one-time keys","since":null};
