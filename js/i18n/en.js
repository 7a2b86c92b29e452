// English strings of the guardian's own texts: the recovery prompt, the panel ("panel.*") and the drop-in's
// writer overlay ("writer.*"). To add a language, copy this file to js/i18n/<code>.js, translate the values
// (keep the {placeholders}), add the code to LANGUAGES and LOADERS in js/strings.js, and start the guardian
// with { lang: "<code>" } (or data-lang="<code>"; default: the page's <html lang>). A key a language lacks
// falls back to English (tests/e2e/i18n.test.mjs fails while any shipped language lacks one); a host can
// replace any prompt string with { strings: { key: "…" } }.
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
  "signout.unconfirmed": "This device could not be signed out: {reason}. It stays on the server, and nothing was deleted. Try again, or clear this device anyway.",
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

  // the panel (<matrix-crypto-guardian-panel>)
  "panel.title": "Encryption guardian",
  "panel.version": "version {version}",
  "panel.not-loaded": "guardian not loaded",
  "panel.status": "Status",
  "panel.symptoms": "Symptoms seen (KE)",
  "panel.entries": "Last journal entries",
  "panel.no-entries": "nothing journaled",
  "panel.level.green": "green",
  "panel.level.amber": "amber",
  "panel.level.red": "red",
  "panel.not-active": "not active",
  "panel.action.download": "Download report",
  "panel.action.copy": "Copy report",
  "panel.action.persist": "Request persistent storage",
  "panel.action.recovery": "Open recovery prompt",
  "panel.out.not-loaded": "The guardian is not loaded.",
  "panel.out.saved": "Saved {file}",
  "panel.out.copied": "Report copied to the clipboard.",
  "panel.out.copy-refused": "The browser refused the clipboard; use Download.",
  "panel.out.persist-inactive": "Persistent storage is not active in this build.",
  "panel.out.persisted": "Storage is persistent.",
  "panel.out.not-granted": "Not granted ({outcome}).",
  "panel.out.prompt-opened": "Recovery prompt opened.",
  "panel.out.nothing-to-recover": "Nothing to recover now (or the host shows its own prompt).",
  "panel.out.host-asked": "No recovery prompt in this build; the host was asked to open one.",
  "panel.out.failed": "Failed: {error}",
  "panel.cap.persist": "Persistent storage",
  "panel.cap.persist.granted": "granted: the browser will not evict the crypto store",
  "panel.cap.persist.unsupported": "this browser cannot make storage persistent",
  "panel.cap.persist.denied": "not granted ({outcome}): the store may be evicted",
  "panel.cap.persist.unchecked": "not checked yet",
  "panel.cap.writer": "Single writer",
  "panel.cap.writer.lost": "another tab took the crypto writer role",
  "panel.cap.writer.writer": "this tab is the crypto writer ({mechanism})",
  "panel.cap.writer.waiting": "waiting: another tab is the writer ({mechanism})",
  "panel.cap.store": "Store-loss check",
  "panel.cap.store.lost": "the session survived but its crypto store is gone",
  "panel.cap.store.healthy": "session and crypto store were both present at start",
  "panel.cap.store.no-session": "no session at start: nothing could be lost",
  "panel.cap.store.other": "could not tell ({verdict})",
  "panel.cap.storm": "Storm watch",
  "panel.cap.storm.open": "keys/upload loop stopped: breaker open, {answers} retries answered locally",
  "panel.cap.storm.probing": "probing: one real keys/upload let through",
  "panel.cap.storm.seen": "a conflict was seen in this page; uploads pass again",
  "panel.cap.storm.watching": "watching keys/upload: no conflict",
  "panel.cap.diagnosis": "Diagnosis",
  "panel.cap.diagnosis.none": "no conflict to explain",
  "panel.cap.diagnosis.pending": "the cause is being checked",
  "panel.cap.remedy": "Remedy",
  "panel.cap.remedy.offered": "a remedy is offered ({cause}): open the recovery prompt",
  "panel.cap.remedy.none": "nothing to mend",
  "panel.cap.journal": "Journal",
  "panel.cap.journal.unavailable": "not kept: its module could not load ({reason})",
  "panel.cap.journal.asleep": "asleep: nothing troubling in this page (it wakes on the first sign of trouble, or for a report)",
  "panel.cap.journal.waking": "waking: loading the journal…",
  "panel.cap.journal.opening": "opening the guardian's own database…",
  "panel.cap.journal.memory": "kept in memory only: the guardian's own database cannot be opened",
  "panel.cap.journal.new": "kept across reloads; its database was new in this page (first run, or the site's storage was cleared)",
  "panel.cap.journal.kept": "kept across reloads in the guardian's own database",
  "panel.unknown": "unknown",

  // the drop-in's writer overlay (one tab at a time uses the encryption keys)
  "writer.elsewhere.title": "Open in another tab",
  "writer.elsewhere.body": "This chat is open in another tab. Only one tab at a time can use your encryption keys, so this tab waits.",
  "writer.lost.title": "Taken over by another tab",
  "writer.lost.body": "You chose to use this chat in another tab, so this tab stopped using your encryption keys. Reload to use it here again.",
  "writer.closing.title": "Open in another tab",
  "writer.closing.body": "You can close this tab now and go on in the other one.",
  "writer.use-here": "Use here",
  "writer.close": "Close",
  "writer.reload": "Reload",
  "writer.mechanism.web-locks": "Tab coordination: Web Locks.",
  "writer.mechanism.lease": "Tab coordination: localStorage lease (Web Locks unavailable).",
};
