// English strings of the recovery prompt. To add a language, copy this file to js/i18n/<code>.js,
// translate the values (keep the {placeholders}) and start the guardian with { language: "<code>" }.
// Missing keys fall back to English; a host can replace any string with { strings: { key: "…" } }.
export default {
  // headings, one per cause
  "title.store-lost": "This device lost its encryption keys",
  "title.identity-replaced": "This device lost its encryption keys",
  "title.concurrent-writers": "Two tabs wrote this device's encryption keys",
  "title.exhaustion-or-other": "This device cannot publish its encryption keys",
  "title.undetermined": "This device cannot publish its encryption keys",
  "title.pending": "This device cannot publish its encryption keys",

  // what happened, in plain words
  "what.store-lost":
    "The browser deleted this site's encryption store, but you are still signed in. If this device went on, it would publish new keys under its old name and people would send you messages it cannot read. Key uploads are paused until you choose.",
  "what.identity-replaced":
    "The browser lost this device's encryption store and the device started again with new keys under its old name. The server still holds keys of the old identity: people who use them send messages this device cannot read. Only signing this device out fixes it.",
  "what.concurrent-writers":
    "This account was open in two tabs at once and both wrote encryption keys. The server refused the second set. The device itself is intact: its keys can be repaired here.",
  "what.exhaustion-or-other":
    "The server refused this device's encryption keys for a reason that is not a lost store. Repeated uploads were stopped.",
  "what.undetermined":
    "The server refused this device's encryption keys and the cause could not be determined. Repeated uploads were stopped.",
  "what.pending": "The server refused this device's encryption keys. The cause is being checked.",
  "cause.label": "Diagnosis: {reason}",
  "storeMismatch.explained":
    "Earlier in this page the encryption engine refused to open its store because the store belonged to another account or device ({message}). Clients that then delete the store and start again under the same device name lose this device's keys: that is most likely what happened here.",

  // facts shown before any choice
  "facts.heading": "Before you choose",
  "facts.checking": "Checking…",
  "fact.keyBackup": "Key backup on the server",
  "fact.secretStorage": "Secret storage (recovery key)",
  "fact.crossSigning": "Cross-signing",
  "fact.deviceVerified": "This device verified by you",
  "fact.exportableKeys": "Room keys this device could export",
  "fact.yes": "yes",
  "fact.no": "no",
  "fact.unknown": "unknown",
  "fact.backupVersion": "yes (version {version})",

  // choices
  "choices.heading": "What you can do",
  "remedy.export-keys": "Export room keys…",
  "remedy.export-keys.what": "Saves a file, encrypted with a passphrase you choose, that lets another session read your past messages.",
  "remedy.sign-out": "Sign out this device",
  "remedy.sign-out.what": "Ends this device on the server, then clears its stores here. You sign in again as a new device.",
  "remedy.repair": "Repair here",
  "remedy.repair.what": "Removes this device's stale keys from the server so the pending upload succeeds. You stay signed in.",
  "remedy.continue": "Continue at my own risk",
  "remedy.continue.what": "Publishes new keys under this device's old name. Messages sent to the old keys stay unreadable.",
  "remedy.snooze": "Later",
  "remedy.snooze.what": "Hides this for an hour. It comes back on the next refused upload.",
  "recommended": "Recommended",

  // losses
  "loses.heading": "You lose:",
  "loss.unbacked-history": "encrypted messages this device can read and nothing else holds (no key backup, no export)",
  "loss.maybe-history": "possibly encrypted messages only this device can read (backup status unknown)",
  "loss.this-device": "this device and its verification; the next sign-in is a new device",
  "loss.messages-to-lost-keys": "messages already sent to the lost keys",
  "loss.storm-continues": "nothing now, but others keep encrypting to keys this device does not have",

  // export
  "export.heading": "Export room keys",
  "export.passphrase": "Passphrase",
  "export.confirm": "Repeat the passphrase",
  "export.start": "Export",
  "export.cancel": "Back",
  "export.mismatch": "The passphrases differ.",
  "export.short": "Use at least 8 characters.",
  "export.working": "Encrypting {count} room keys… this takes a few seconds.",
  "export.done": "Saved {count} room keys to {file}.",
  "export.failed": "Export failed: {error}",

  // sign out
  "signout.working": "Signing out on the server…",
  "signout.clearing": "Signed out. Clearing this device's stores…",
  "signout.failed": "The server did not sign this device out (HTTP {status}): {error}. Nothing was deleted.",
  "signout.unreachable": "The server cannot be reached ({error}). Nothing was deleted.",
  "signout.clear-anyway": "Clear this device anyway",
  "signout.clear-anyway.what":
    "Deletes the stores here without a server sign-out. The old device and its keys stay on the server; remove it later from another session's device list.",
  "signout.done": "Signed out. Reloading…",

  // repair
  "repair.working": "Removing stale keys from the server: {claimed} removed, {remaining} left…",
  "repair.drained": "Stale keys removed ({claimed}). Waiting for this device's next upload…",
  "repair.done": "Repaired: the server accepted this device's keys.",
  "repair.stopped": "Repair stopped: {reason}. Nothing more was changed.",

  "close": "Close",
  "error.generic": "Something went wrong: {error}",
};
