//! One crypto writer per session across tabs: the pure decisions.
//!
//! * [`lock_name`]: the name of the writer lock (Web Locks or lease), from the user and device, or an override.
//! * [`is_crypto_store`]: which IndexedDB names the drop-in gate holds (mirrored in `js/idb-gate.js`, which
//!   must decide synchronously before the wasm is loaded).
//! * [`Lease`]: the localStorage lease used where `navigator.locks` is missing — claim, heartbeat, expiry,
//!   crashed holder, steal — with the clock passed in.
//! * [`Census`]: which tabs of this session are open and which one writes (fed by BroadcastChannel messages).
//!
//! ## Why the lease looks like this
//! localStorage has no compare-and-swap, and tabs' wall clocks are not to be trusted against one another (a
//! suspended laptop, a clock adjusted by NTP, a background tab whose timers are throttled). So:
//! * **Liveness is judged by the observer's own monotonic clock**: the holder bumps a counter (`beat`) on every
//!   heartbeat; a waiter calls the lease stale only when it has seen the *same* (owner, beat) for
//!   `stale_after_ms` of its own time. No timestamp written by one tab is ever compared with another tab's clock.
//! * **A throttled holder is asked before it is declared dead**: halfway to stale the waiter asks for a `ping`
//!   (the JS layer posts it on the census channel; message tasks run even where timers are throttled, and the
//!   holder answers with a heartbeat).
//! * **A claim is confirmed after a settle delay**: the claimer writes its record, waits `settle_ms`, and reads
//!   back; of concurrent claimers the last write wins and every other claimer sees that it lost.
//! * **A holder checks on every tick that the record is still its own**; if not, it has lost (stolen or
//!   superseded) and must stop writing.
//! * **Clean close releases at once** (`pagehide` → remove → a `storage` event wakes the waiters); a crashed
//!   holder is taken over after `stale_after_ms`.

use std::collections::BTreeMap;

/// matrix-js-sdk's default crypto store prefix; it also matches the `-meta` store.
pub const DEFAULT_CRYPTO_STORE_PREFIX: &str = "matrix-js-sdk::matrix-sdk-crypto";
const LOCK_ROOT: &str = "matrix-crypto-guardian/writer";

/// The writer lock's name.
///
/// * an explicit override (non-blank) is used as it is;
/// * with a user and a device: `matrix-crypto-guardian/writer/<prefix>/<user id>/<device id>`;
/// * without (the drop-in, which starts before the host has logged in): `matrix-crypto-guardian/writer/<prefix>`.
///   That is the same scope in practice: one origin has one crypto store per prefix.
pub fn lock_name(override_name: Option<&str>, store_prefix: Option<&str>, user_id: Option<&str>, device_id: Option<&str>) -> String {
    if let Some(name) = override_name.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let prefix = store_prefix.map(str::trim).filter(|p| !p.is_empty()).unwrap_or(DEFAULT_CRYPTO_STORE_PREFIX);
    let nonblank = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    match (nonblank(user_id), nonblank(device_id)) {
        (Some(user), Some(device)) => [LOCK_ROOT, "/", prefix, "/", &user, "/", &device].concat(),
        _ => [LOCK_ROOT, "/", prefix].concat(),
    }
}

/// True for the IndexedDB names the writer gate holds: those that start with the crypto store prefix, and
/// every rust crypto store whatever its prefix (`<prefix>::matrix-sdk-crypto` and its `-meta`): multi-account
/// clients name one per session (`initRustCrypto({ cryptoDatabasePrefix })`), and a store the gate let
/// through while the store-loss check reads could be created blank under the old device id.
pub fn is_crypto_store(db_name: &str, store_prefix: &str) -> bool {
    let rust_store = [RUST_STORE_SUFFIX, RUST_META_SUFFIX].iter().any(|suffix| db_name.ends_with(suffix));
    rust_store || (!store_prefix.is_empty() && db_name.starts_with(store_prefix))
}

const RUST_STORE_SUFFIX: &str = crate::store_loss::model::RUST_STORE_SUFFIX;
const RUST_META_SUFFIX: &str = "::matrix-sdk-crypto-meta";

// ------------------------------------------------------------------------------------------------
// the lease

/// What the lease's localStorage entry holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRecord {
    /// The holder's (or claimer's) tab id.
    pub owner: String,
    /// Heartbeat counter: bumped by the holder on every heartbeat.
    pub beat: u64,
    /// Set by a steal: the tab it was taken from (so that tab knows it was a steal, not a crash takeover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stolen_from: Option<String>,
}

impl LeaseRecord {
    /// Parses the stored value; anything unreadable counts as no lease (it is then overwritten).
    pub fn parse(raw: Option<&str>) -> Option<LeaseRecord> {
        use crate::stored_json::{count, optional_text, parse, text};
        let v = parse(raw?)?;
        let owner = text(&v, "owner").filter(|o| !o.is_empty())?;
        Some(LeaseRecord { owner, beat: count(&v, "beat")?, stolen_from: optional_text(&v, "stolenFrom")? })
    }

    /// The entry's text, as the JS layer writes it to localStorage.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeaseConfig {
    /// How often the holder bumps its heartbeat.
    pub heartbeat_ms: f64,
    /// How long a waiter must see an unchanged heartbeat before it takes the lease over (a crashed holder).
    pub stale_after_ms: f64,
    /// How long a claimer waits before reading its claim back.
    pub settle_ms: f64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { heartbeat_ms: 1_000.0, stale_after_ms: 8_000.0, settle_ms: 60.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "camelCase")]
#[strum(serialize_all = "camelCase")]
pub enum Mode {
    /// Resolve when acquired.
    Wait,
    /// Give up at once if another tab holds it.
    IfAvailable,
    /// Take it over; the holder is told and must stop.
    Steal,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "wait" => Some(Mode::Wait),
            "ifAvailable" => Some(Mode::IfAvailable),
            "steal" => Some(Mode::Steal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum LostReason {
    /// Another tab took over with "Use here".
    Stolen,
    /// Another tab claimed the lease believing this one dead (its heartbeat stalled), or the entry was replaced.
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LeaseEvent {
    Acquired,
    /// Waiting for `holder` (first time the wait starts, and when the holder changes).
    Waiting { holder: Option<String> },
    /// `ifAvailable` and another tab holds it.
    Unavailable { holder: String },
    Lost { reason: LostReason, by: String },
}

/// What the JS layer must write to the lease entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum LeaseWrite {
    Put { record: LeaseRecord },
    Remove,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseStep {
    pub write: Option<LeaseWrite>,
    pub events: Vec<LeaseEvent>,
    /// Ask the holder for a heartbeat now (it may be throttled).
    pub ping: bool,
    /// Call `tick` again after this many ms (a `storage` event or a ping may call it earlier).
    pub next_tick_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Waiting,
    /// `give_up`: an `ifAvailable` claim, which answers "unavailable" instead of waiting when it loses.
    Claiming { since: f64, steal: bool, give_up: bool },
    Holding,
    Lost,
}

#[derive(Debug, Clone)]
pub struct Lease {
    me: String,
    config: LeaseConfig,
    phase: Phase,
    beat: u64,
    /// (owner, beat) last seen from another tab and since when (our clock).
    seen: Option<(String, u64, f64)>,
    waiting_for: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum LeasePhase {
    Idle,
    Waiting,
    Claiming,
    Holding,
    Lost,
}

impl Lease {
    pub fn new(me: impl Into<String>, config: LeaseConfig) -> Lease {
        Lease { me: me.into(), config, phase: Phase::Idle, beat: 0, seen: None, waiting_for: None }
    }

    pub fn phase(&self) -> LeasePhase {
        match self.phase {
            Phase::Idle => LeasePhase::Idle,
            Phase::Waiting => LeasePhase::Waiting,
            Phase::Claiming { .. } => LeasePhase::Claiming,
            Phase::Holding => LeasePhase::Holding,
            Phase::Lost => LeasePhase::Lost,
        }
    }

    pub fn holds(&self) -> bool {
        self.phase == Phase::Holding
    }

    /// How long the record `current` has been unchanged as seen from here (0 on first sight or a change).
    fn observe(&mut self, current: Option<&LeaseRecord>, now: f64) -> f64 {
        match current {
            None => {
                self.seen = None;
                0.0
            }
            Some(r) => match &self.seen {
                Some((owner, beat, since)) if *owner == r.owner && *beat == r.beat => (now - since).max(0.0),
                _ => {
                    self.seen = Some((r.owner.clone(), r.beat, now));
                    0.0
                }
            },
        }
    }

    fn claim(&mut self, current: Option<&LeaseRecord>, now: f64, steal: bool) -> LeaseStep {
        self.claim_as(current, now, steal, false)
    }

    fn claim_as(&mut self, current: Option<&LeaseRecord>, now: f64, steal: bool, give_up: bool) -> LeaseStep {
        self.phase = Phase::Claiming { since: now, steal, give_up };
        let stolen_from = if steal { current.filter(|r| r.owner != self.me).map(|r| r.owner.clone()) } else { None };
        LeaseStep {
            write: Some(LeaseWrite::Put { record: LeaseRecord { owner: self.me.clone(), beat: 0, stolen_from } }),
            next_tick_ms: Some(self.config.settle_ms),
            ..LeaseStep::default()
        }
    }

    /// When a wait or claim under way must be looked at again (the JS layer keeps one timer).
    fn pending_tick(&self, now: f64) -> f64 {
        match self.phase {
            Phase::Claiming { since, .. } => (self.config.settle_ms - (now - since)).max(1.0),
            _ => self.config.heartbeat_ms,
        }
    }

    /// Ask for the lease. `current` is the entry as read just now.
    pub fn request(&mut self, mode: Mode, current: Option<&LeaseRecord>, now: f64) -> LeaseStep {
        if matches!(self.phase, Phase::Holding) && current.is_some_and(|r| r.owner == self.me) {
            return LeaseStep { events: vec![LeaseEvent::Acquired], next_tick_ms: Some(self.config.heartbeat_ms), ..LeaseStep::default() };
        }
        if mode == Mode::IfAvailable && matches!(self.phase, Phase::Waiting | Phase::Claiming { .. }) {
            // Already asking: "not available now", and the wait (or claim) under way goes on.
            let holder = current.map(|r| r.owner.clone()).unwrap_or_default();
            return LeaseStep { events: vec![LeaseEvent::Unavailable { holder }], next_tick_ms: Some(self.pending_tick(now)), ..LeaseStep::default() };
        }
        self.waiting_for = None;
        let age = self.observe(current, now);
        let free = match current {
            None => true,
            Some(r) => r.owner == self.me || age >= self.config.stale_after_ms,
        };
        match mode {
            Mode::Steal => self.claim(current, now, true),
            Mode::IfAvailable if free => self.claim_as(current, now, false, true),
            _ if free => self.claim(current, now, false),
            Mode::IfAvailable => {
                self.phase = Phase::Idle;
                let holder = current.map(|r| r.owner.clone()).unwrap_or_default();
                LeaseStep { events: vec![LeaseEvent::Unavailable { holder }], ..LeaseStep::default() }
            }
            Mode::Wait => {
                self.phase = Phase::Waiting;
                self.wait_step(current, age)
            }
        }
    }

    fn wait_step(&mut self, current: Option<&LeaseRecord>, age: f64) -> LeaseStep {
        let holder = current.map(|r| r.owner.clone());
        let mut events = Vec::new();
        if self.waiting_for.as_ref() != Some(&holder) {
            events.push(LeaseEvent::Waiting { holder: holder.clone() });
            self.waiting_for = Some(holder);
        }
        let half = self.config.stale_after_ms / 2.0;
        let next = if age < half { half - age } else { (self.config.stale_after_ms - age).max(1.0) };
        LeaseStep { events, ping: age >= half, next_tick_ms: Some(next.min(self.config.heartbeat_ms)), ..LeaseStep::default() }
    }

    /// Re-evaluate: on a timer, on a `storage` event for the entry, or on a ping. `current` is the entry now.
    pub fn tick(&mut self, current: Option<&LeaseRecord>, now: f64) -> LeaseStep {
        let age = self.observe(current, now);
        match self.phase {
            Phase::Idle | Phase::Lost => LeaseStep::default(),
            Phase::Waiting => {
                let free = match current {
                    None => true,
                    Some(r) => r.owner == self.me || age >= self.config.stale_after_ms,
                };
                if free {
                    self.claim(current, now, false)
                } else {
                    self.wait_step(current, age)
                }
            }
            Phase::Claiming { since, steal, give_up } => {
                if now - since < self.config.settle_ms {
                    return LeaseStep { next_tick_ms: Some(self.config.settle_ms - (now - since)), ..LeaseStep::default() };
                }
                match current {
                    Some(r) if r.owner == self.me => {
                        self.phase = Phase::Holding;
                        self.beat = 1;
                        self.waiting_for = None;
                        LeaseStep {
                            write: Some(LeaseWrite::Put { record: LeaseRecord { owner: self.me.clone(), beat: self.beat, stolen_from: None } }),
                            events: vec![LeaseEvent::Acquired],
                            next_tick_ms: Some(self.config.heartbeat_ms),
                            ..LeaseStep::default()
                        }
                    }
                    // Another claimer's write came last: wait behind it (a steal that lost a race retries,
                    // an ifAvailable gives up).
                    other if steal => self.claim(other, now, true),
                    other if give_up => {
                        self.phase = Phase::Idle;
                        let holder = other.map(|r| r.owner.clone()).unwrap_or_default();
                        LeaseStep { events: vec![LeaseEvent::Unavailable { holder }], ..LeaseStep::default() }
                    }
                    other => {
                        self.phase = Phase::Waiting;
                        let age = self.observe(other, now);
                        self.wait_step(other, age)
                    }
                }
            }
            Phase::Holding => match current {
                Some(r) if r.owner != self.me => {
                    self.phase = Phase::Lost;
                    let reason = if r.stolen_from.as_deref() == Some(self.me.as_str()) { LostReason::Stolen } else { LostReason::Superseded };
                    LeaseStep { events: vec![LeaseEvent::Lost { reason, by: r.owner.clone() }], ..LeaseStep::default() }
                }
                // Ours (or removed by someone clearing storage: put it back): heartbeat.
                _ => {
                    self.beat += 1;
                    LeaseStep {
                        write: Some(LeaseWrite::Put { record: LeaseRecord { owner: self.me.clone(), beat: self.beat, stolen_from: None } }),
                        next_tick_ms: Some(self.config.heartbeat_ms),
                        ..LeaseStep::default()
                    }
                }
            },
        }
    }

    /// Give the lease up (`releaseWriter()`, `pagehide`). Removes the entry only if it is still ours.
    pub fn release(&mut self, current: Option<&LeaseRecord>) -> LeaseStep {
        let ours = current.is_some_and(|r| r.owner == self.me);
        let was_active = matches!(self.phase, Phase::Holding | Phase::Claiming { .. });
        self.phase = Phase::Idle;
        self.waiting_for = None;
        LeaseStep { write: (ours && was_active).then_some(LeaseWrite::Remove), ..LeaseStep::default() }
    }
}

// ------------------------------------------------------------------------------------------------
// acquiring: one request under way per tab

/// What `acquireWriter(mode)` does, given whether this tab writes and which request it has under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AcquireStep {
    /// This tab is the writer: true at once.
    AlreadyWriter,
    /// Nothing under way: make a request in this mode.
    Request,
    /// Abort the request under way (a wait) and make this one; its callers now wait on this one.
    Supersede,
    /// Wait for the request under way; settle with its outcome (and see [`after_unavailable`]).
    Join,
    /// False at once, leaving the request under way alone: `ifAvailable` while this tab already waits
    /// (another tab holds the role, or this tab's own wait is about to get it: either way it is not
    /// available *now*, and answering must not cancel the wait).
    Unavailable,
}

/// The decision for a new acquire call. A steal is the user's "Use here": it wins over a wait under
/// way, and joins a steal under way; a wait joins any request under way (an `ifAvailable` that comes
/// back empty is followed by a wait for those still waiting).
pub fn acquire_step(is_writer: bool, under_way: Option<Mode>, mode: Mode) -> AcquireStep {
    if is_writer {
        return AcquireStep::AlreadyWriter;
    }
    match (under_way, mode) {
        (None, _) => AcquireStep::Request,
        (Some(Mode::Wait), Mode::Steal) => AcquireStep::Supersede,
        (Some(Mode::Wait), Mode::IfAvailable) => AcquireStep::Unavailable,
        (Some(_), _) => AcquireStep::Join,
    }
}

/// A request came back "held elsewhere" (only an `ifAvailable` does): its `ifAvailable` callers get
/// false; callers that joined it in another mode still want the role, so the next request is theirs
/// (a steal if any of them steals, else a wait), or none.
pub fn after_unavailable(joined: &[Mode]) -> Option<Mode> {
    if joined.contains(&Mode::Steal) {
        Some(Mode::Steal)
    } else if joined.contains(&Mode::Wait) {
        Some(Mode::Wait)
    } else {
        None
    }
}

// ------------------------------------------------------------------------------------------------
// the census

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Role {
    /// Holds the writer lock.
    Writer,
    /// Waits for it.
    Waiting,
    /// Lost it to another tab (must not write).
    Lost,
    /// Has not asked for it (or released it).
    Idle,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CensusSnapshot {
    /// Open tabs of this session that answered, this one included.
    pub tabs: usize,
    /// The writer's tab id, if a tab says it writes.
    pub writer: Option<String>,
    pub waiting: usize,
    /// More than one tab says it writes (never expected: reported, not hidden).
    pub conflicting_writers: usize,
    pub me: String,
    pub writer_is_me: bool,
}

/// Tabs heard on the census channel (hello/state/bye messages), with our own role.
#[derive(Debug, Clone)]
pub struct Census {
    me: String,
    my_role: Role,
    tabs: BTreeMap<String, (Role, f64)>,
}

impl Census {
    pub fn new(me: impl Into<String>) -> Census {
        Census { me: me.into(), my_role: Role::Idle, tabs: BTreeMap::new() }
    }

    pub fn set_my_role(&mut self, role: Role) {
        self.my_role = role;
    }

    /// A tab said hello or announced its role.
    pub fn heard(&mut self, tab: &str, role: Role, now: f64) {
        if tab != self.me && !tab.is_empty() {
            self.tabs.insert(tab.to_owned(), (role, now));
        }
    }

    /// A tab said goodbye (pagehide).
    pub fn gone(&mut self, tab: &str) {
        self.tabs.remove(tab);
    }

    /// Forget tabs not heard since `since` (after a roll call that every live tab answers).
    pub fn forget_silent_since(&mut self, since: f64) {
        self.tabs.retain(|_, (_, at)| *at >= since);
    }

    pub fn snapshot(&self) -> CensusSnapshot {
        let mut writers: Vec<&str> = self.tabs.iter().filter(|(_, (r, _))| *r == Role::Writer).map(|(t, _)| t.as_str()).collect();
        if self.my_role == Role::Writer {
            writers.insert(0, &self.me);
        }
        let waiting = self.tabs.values().filter(|(r, _)| *r == Role::Waiting).count() + usize::from(self.my_role == Role::Waiting);
        CensusSnapshot {
            tabs: self.tabs.len() + 1,
            writer: writers.first().map(|w| (*w).to_owned()),
            waiting,
            conflicting_writers: writers.len().saturating_sub(1),
            me: self.me.clone(),
            writer_is_me: self.my_role == Role::Writer,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// JSON shapes (what the JS layer reads; the test at the end pins them to serde's)

impl Mode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl LostReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl LeasePhase {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// `"writer" | "waiting" | "lost" | "idle"`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "writer" => Some(Role::Writer),
            "waiting" => Some(Role::Waiting),
            "lost" => Some(Role::Lost),
            "idle" => Some(Role::Idle),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: LeaseConfig = LeaseConfig { heartbeat_ms: 1_000.0, stale_after_ms: 8_000.0, settle_ms: 60.0 };

    /// The localStorage entry shared by simulated tabs: applies a step's write like the JS layer does.
    #[derive(Default)]
    struct Storage(Option<LeaseRecord>);
    impl Storage {
        fn apply(&mut self, step: &LeaseStep) {
            match &step.write {
                Some(LeaseWrite::Put { record }) => self.0 = Some(record.clone()),
                Some(LeaseWrite::Remove) => self.0 = None,
                None => {}
            }
        }
        fn cur(&self) -> Option<&LeaseRecord> {
            self.0.as_ref()
        }
    }

    fn run(tab: &mut Lease, store: &mut Storage, f: impl FnOnce(&mut Lease, Option<&LeaseRecord>) -> LeaseStep) -> LeaseStep {
        let cur = store.0.clone();
        let step = f(tab, cur.as_ref());
        store.apply(&step);
        step
    }

    #[test]
    fn lock_name_from_user_and_device_or_override() {
        assert_eq!(
            lock_name(None, None, Some("@a:hs"), Some("DEV")),
            "matrix-crypto-guardian/writer/matrix-js-sdk::matrix-sdk-crypto/@a:hs/DEV"
        );
        assert_eq!(lock_name(None, Some("app"), None, Some("DEV")), "matrix-crypto-guardian/writer/app");
        assert_eq!(lock_name(Some("  mine "), None, Some("@a:hs"), Some("DEV")), "mine");
        assert_eq!(lock_name(Some(" "), Some(""), Some(""), None), "matrix-crypto-guardian/writer/matrix-js-sdk::matrix-sdk-crypto");
    }

    #[test]
    fn crypto_store_names_match_the_prefix_and_every_rust_store() {
        assert!(is_crypto_store("matrix-js-sdk::matrix-sdk-crypto", DEFAULT_CRYPTO_STORE_PREFIX));
        assert!(is_crypto_store("matrix-js-sdk::matrix-sdk-crypto-meta", DEFAULT_CRYPTO_STORE_PREFIX));
        // Per-session names of multi-account clients, whatever the configured prefix.
        assert!(is_crypto_store("mx@alice:hs::matrix-sdk-crypto", DEFAULT_CRYPTO_STORE_PREFIX));
        assert!(is_crypto_store("mx@alice:hs::matrix-sdk-crypto-meta", "app"));
        assert!(!is_crypto_store("mx@alice:hs::matrix-sdk-crypto-backup", DEFAULT_CRYPTO_STORE_PREFIX));
        assert!(!is_crypto_store("matrix-js-sdk:web-sync-store", DEFAULT_CRYPTO_STORE_PREFIX));
        assert!(!is_crypto_store("matrix-js-sdk:crypto", DEFAULT_CRYPTO_STORE_PREFIX));
        assert!(!is_crypto_store("anything", ""));
    }

    #[test]
    fn unreadable_entries_count_as_free() {
        assert_eq!(LeaseRecord::parse(Some("{not json")), None);
        assert_eq!(LeaseRecord::parse(Some(r#"{"owner":"","beat":1}"#)), None);
        assert_eq!(LeaseRecord::parse(None), None);
        assert_eq!(LeaseRecord::parse(Some(r#"{"owner":"a","beat":3}"#)).unwrap().beat, 3);
        for bad in [r#"{"owner":"a"}"#, r#"{"owner":"a","beat":-1}"#, r#"{"owner":"a","beat":1.5}"#, r#"{"owner":7,"beat":1}"#,
            r#"{"owner":"a","beat":1,"stolenFrom":2}"#, "[]", "null"] {
            assert_eq!(LeaseRecord::parse(Some(bad)), None, "{bad}");
        }
        // What a steal writes reads back whole.
        let stolen = LeaseRecord { owner: "b".into(), beat: 9, stolen_from: Some("a".into()) };
        assert_eq!(LeaseRecord::parse(Some(&stolen.to_json_string())), Some(stolen));
        let plain = LeaseRecord { owner: "b".into(), beat: 0, stolen_from: None };
        assert_eq!(LeaseRecord::parse(Some(&plain.to_json_string())), Some(plain));
    }

    #[test]
    fn free_lease_is_claimed_then_confirmed_after_settling() {
        let mut s = Storage::default();
        let mut a = Lease::new("a", CFG);
        let step = run(&mut a, &mut s, |t, c| t.request(Mode::Wait, c, 0.0));
        assert!(step.events.is_empty());
        assert_eq!(a.phase(), LeasePhase::Claiming);
        assert_eq!(step.next_tick_ms, Some(60.0));
        // too early: nothing yet
        let step = run(&mut a, &mut s, |t, c| t.tick(c, 30.0));
        assert!(step.events.is_empty() && step.write.is_none());
        let step = run(&mut a, &mut s, |t, c| t.tick(c, 61.0));
        assert_eq!(step.events, vec![LeaseEvent::Acquired]);
        assert!(a.holds());
        assert_eq!(s.cur().unwrap().owner, "a");
    }

    #[test]
    fn concurrent_claims_leave_exactly_one_holder() {
        let mut s = Storage::default();
        let mut a = Lease::new("a", CFG);
        let mut b = Lease::new("b", CFG);
        // both saw the lease free (b read before a's write landed), a's write first, b's last
        let free = None;
        let sa = a.request(Mode::Wait, free, 0.0);
        let sb = b.request(Mode::Wait, free, 1.0);
        s.apply(&sa);
        s.apply(&sb);
        let ea = run(&mut a, &mut s, |t, c| t.tick(c, 70.0));
        let eb = run(&mut b, &mut s, |t, c| t.tick(c, 70.0));
        assert!(b.holds() && !a.holds());
        assert_eq!(eb.events, vec![LeaseEvent::Acquired]);
        assert_eq!(ea.events, vec![LeaseEvent::Waiting { holder: Some("b".into()) }]);
    }

    #[test]
    fn an_if_available_claim_that_loses_the_race_gives_up_instead_of_waiting() {
        let mut s = Storage::default();
        let mut a = Lease::new("a", CFG);
        let mut b = Lease::new("b", CFG);
        let sa = a.request(Mode::IfAvailable, None, 0.0);
        let sb = b.request(Mode::Wait, None, 1.0);
        s.apply(&sa);
        s.apply(&sb);
        let ea = run(&mut a, &mut s, |t, c| t.tick(c, 70.0));
        run(&mut b, &mut s, |t, c| t.tick(c, 70.0));
        assert!(b.holds() && !a.holds());
        assert_eq!(ea.events, vec![LeaseEvent::Unavailable { holder: "b".into() }]);
        assert_eq!(a.phase(), LeasePhase::Idle, "an ifAvailable never turns into a wait");
    }

    fn holder(s: &mut Storage, id: &str) -> Lease {
        let mut t = Lease::new(id, CFG);
        run(&mut t, s, |t, c| t.request(Mode::Wait, c, 0.0));
        run(&mut t, s, |t, c| t.tick(c, 100.0));
        assert!(t.holds());
        t
    }

    /// Tab "a" holds the lease; tab "b" is open beside it and has asked for nothing yet.
    fn a_holds_b_beside() -> (Storage, Lease, Lease) {
        let mut s = Storage::default();
        let a = holder(&mut s, "a");
        (s, a, Lease::new("b", CFG))
    }

    #[test]
    fn a_live_holder_is_never_taken_over_and_if_available_gives_up() {
        let (mut s, mut a, mut b) = a_holds_b_beside();
        let step = run(&mut b, &mut s, |t, c| t.request(Mode::IfAvailable, c, 200.0));
        assert_eq!(step.events, vec![LeaseEvent::Unavailable { holder: "a".into() }]);
        assert_eq!(b.phase(), LeasePhase::Idle);
        run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 200.0));
        // a minute of heartbeats: b never claims
        let mut now = 200.0;
        while now < 60_000.0 {
            now += 1_000.0;
            run(&mut a, &mut s, |t, c| t.tick(c, now));
            let step = run(&mut b, &mut s, |t, c| t.tick(c, now + 500.0));
            assert!(step.write.is_none() && !step.ping, "at {now}: {step:?}");
        }
        assert!(a.holds() && !b.holds());
    }

    #[test]
    fn if_available_while_waiting_answers_false_and_the_wait_goes_on() {
        let (mut s, mut a, mut b) = a_holds_b_beside();
        run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 200.0));
        assert_eq!(b.phase(), LeasePhase::Waiting);
        let step = run(&mut b, &mut s, |t, c| t.request(Mode::IfAvailable, c, 300.0));
        assert_eq!(step.events, vec![LeaseEvent::Unavailable { holder: "a".into() }]);
        assert!(step.write.is_none());
        assert!(step.next_tick_ms.is_some(), "the wait's timer goes on: {step:?}");
        assert_eq!(b.phase(), LeasePhase::Waiting, "the wait under way is not cancelled");
        // The holder leaves: the wait still gets the lease.
        let release = a.release(s.cur());
        s.apply(&release);
        run(&mut b, &mut s, |t, c| t.tick(c, 1_000.0));
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 1_100.0));
        assert_eq!(step.events, vec![LeaseEvent::Acquired]);
        assert!(b.holds());
    }

    #[test]
    fn acquire_steps_never_cancel_a_wait_for_an_if_available_and_a_steal_wins_over_a_wait() {
        use AcquireStep::*;
        let modes = [Mode::Wait, Mode::IfAvailable, Mode::Steal];
        for mode in modes {
            assert_eq!(acquire_step(true, None, mode), AlreadyWriter);
            assert_eq!(acquire_step(true, Some(Mode::Wait), mode), AlreadyWriter);
            assert_eq!(acquire_step(false, None, mode), Request);
            assert_eq!(acquire_step(false, Some(Mode::Steal), mode), Join, "a steal under way carries every caller");
            assert_eq!(acquire_step(false, Some(Mode::IfAvailable), mode), Join);
        }
        assert_eq!(acquire_step(false, Some(Mode::Wait), Mode::Wait), Join);
        assert_eq!(acquire_step(false, Some(Mode::Wait), Mode::IfAvailable), Unavailable);
        assert_eq!(acquire_step(false, Some(Mode::Wait), Mode::Steal), Supersede);
        // After an ifAvailable came back empty: whoever joined it in another mode still gets a request.
        assert_eq!(after_unavailable(&[]), None);
        assert_eq!(after_unavailable(&[Mode::IfAvailable, Mode::IfAvailable]), None);
        assert_eq!(after_unavailable(&[Mode::IfAvailable, Mode::Wait]), Some(Mode::Wait));
        assert_eq!(after_unavailable(&[Mode::Wait, Mode::Steal, Mode::IfAvailable]), Some(Mode::Steal));
    }

    #[test]
    fn a_crashed_holder_is_pinged_then_taken_over_after_stale_after() {
        let (mut s, _crashed, mut b) = a_holds_b_beside();
        let step = run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 1_000.0));
        assert_eq!(step.events, vec![LeaseEvent::Waiting { holder: Some("a".into()) }]);
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 4_000.0));
        assert!(!step.ping && step.write.is_none());
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 5_100.0));
        assert!(step.ping, "halfway to stale the holder is asked for a heartbeat");
        assert!(step.write.is_none());
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 9_000.0));
        assert!(matches!(step.write, Some(LeaseWrite::Put { .. })), "stale: claimed");
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 9_100.0));
        assert_eq!(step.events, vec![LeaseEvent::Acquired]);
    }

    #[test]
    fn a_throttled_holder_that_answers_the_ping_keeps_the_lease() {
        let (mut s, mut a, mut b) = a_holds_b_beside();
        run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 0.0));
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 4_500.0));
        assert!(step.ping);
        run(&mut a, &mut s, |t, c| t.tick(c, 4_501.0)); // the ping's heartbeat
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 8_100.0));
        assert!(step.write.is_none(), "the heartbeat reset the observation: {step:?}");
        assert!(a.holds());
    }

    #[test]
    fn wall_clock_values_play_no_part_only_the_observers_clock() {
        // the observer's clock may start anywhere (performance.now of a tab opened much later)
        let (mut s, _a, mut b) = a_holds_b_beside();
        run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 1e12));
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 1e12 + 7_000.0));
        assert!(step.write.is_none());
        // a clock going backwards never makes a lease stale
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 0.0));
        assert!(step.write.is_none() && !step.ping);
    }

    #[test]
    fn steal_tells_the_holder_it_was_stolen() {
        let (mut s, mut a, mut b) = a_holds_b_beside();
        let step = run(&mut b, &mut s, |t, c| t.request(Mode::Steal, c, 500.0));
        assert_eq!(s.cur().unwrap().stolen_from.as_deref(), Some("a"));
        assert!(step.events.is_empty());
        let lost = run(&mut a, &mut s, |t, c| t.tick(c, 510.0));
        assert_eq!(lost.events, vec![LeaseEvent::Lost { reason: LostReason::Stolen, by: "b".into() }]);
        assert_eq!(a.phase(), LeasePhase::Lost);
        assert!(run(&mut a, &mut s, |t, c| t.tick(c, 2_000.0)).write.is_none(), "a lost tab writes nothing");
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 600.0));
        assert_eq!(step.events, vec![LeaseEvent::Acquired]);
    }

    #[test]
    fn a_holder_superseded_after_a_stall_loses() {
        let mut s = Storage::default();
        let mut a = holder(&mut s, "a");
        s.0 = Some(LeaseRecord { owner: "c".into(), beat: 0, stolen_from: None });
        let step = run(&mut a, &mut s, |t, c| t.tick(c, 20_000.0));
        assert_eq!(step.events, vec![LeaseEvent::Lost { reason: LostReason::Superseded, by: "c".into() }]);
    }

    #[test]
    fn release_removes_only_our_own_entry_and_wakes_waiters() {
        let (mut s, mut a, mut b) = a_holds_b_beside();
        run(&mut b, &mut s, |t, c| t.request(Mode::Wait, c, 200.0));
        let step = run(&mut a, &mut s, |t, c| t.release(c));
        assert_eq!(step.write, Some(LeaseWrite::Remove));
        assert_eq!(s.cur(), None);
        run(&mut b, &mut s, |t, c| t.tick(c, 210.0)); // the storage event
        let step = run(&mut b, &mut s, |t, c| t.tick(c, 300.0));
        assert_eq!(step.events, vec![LeaseEvent::Acquired]);
        // a waiter releasing does not touch the holder's entry
        let mut c2 = Lease::new("c", CFG);
        run(&mut c2, &mut s, |t, c| t.request(Mode::Wait, c, 400.0));
        assert_eq!(run(&mut c2, &mut s, |t, c| t.release(c)).write, None);
        assert_eq!(s.cur().unwrap().owner, "b");
    }

    #[test]
    fn census_counts_tabs_and_names_the_writer() {
        let mut census = Census::new("me");
        census.set_my_role(Role::Waiting);
        census.heard("w", Role::Writer, 1.0);
        census.heard("x", Role::Waiting, 1.0);
        census.heard("me", Role::Writer, 1.0); // our own echo is ignored
        let snap = census.snapshot();
        assert_eq!((snap.tabs, snap.waiting, snap.writer.as_deref(), snap.conflicting_writers), (3, 2, Some("w"), 0));
        census.gone("w");
        census.heard("x", Role::Writer, 5.0);
        census.heard("y", Role::Idle, 2.0);
        census.forget_silent_since(3.0);
        census.set_my_role(Role::Writer);
        let snap = census.snapshot();
        assert_eq!((snap.tabs, snap.writer.as_deref(), snap.conflicting_writers), (2, Some("me"), 1));
        assert!(snap.writer_is_me);
    }

}
