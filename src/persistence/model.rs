//! What to ask for persistent storage, and when; what to report. Pure: the adapter gathers the browser's
//! answers (`persisted()`, the Permissions API's `persistent-storage` state, `persist()`) and follows
//! these decisions.
//!
//! Engine-aware: `persist()` may show a permission prompt (Firefox does; Chromium decides silently), so
//! unless the permission is already decided it is asked on the first user gesture, never at page load — a
//! prompt out of nowhere at load is what users deny. The reported outcome is always what the browser said.


/// What the Permissions API says of `persistent-storage` (`Unknown`: it cannot say — no Permissions API,
/// or the name is not known to this engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Granted,
    Denied,
    Prompt,
    Unknown,
}

impl Permission {
    /// From `PermissionStatus.state` ("granted" | "denied" | "prompt"); anything else is `Unknown`.
    pub fn from_state(state: Option<&str>) -> Permission {
        match state {
            Some("granted") => Permission::Granted,
            Some("denied") => Permission::Denied,
            Some("prompt") => Permission::Prompt,
            _ => Permission::Unknown,
        }
    }
}

/// Who asked: at start (the permission was already granted, no prompt can show), the first user gesture,
/// or the host (`guardian.requestPersistence()`, meant for a gesture such as login).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskedBy {
    Start,
    Gesture,
    Request,
}

/// What to do at start, once `persisted()` and the permission are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartPlan {
    /// Already persistent: report "already-persisted", ask nothing.
    AlreadyPersisted,
    /// The permission is granted: `persist()` now (no prompt can show); if it still says no, ask again on
    /// the next gesture (some browsers only grant then).
    AskNow,
    /// The browser already said no: report "denied", do not ask.
    ReportDenied,
    /// Asking may prompt: report "awaiting-gesture" and ask on the first click or key.
    AwaitGesture,
}

/// The plan at start.
pub fn start_plan(persisted: bool, permission: Permission) -> StartPlan {
    if persisted {
        return StartPlan::AlreadyPersisted;
    }
    match permission {
        Permission::Granted => StartPlan::AskNow,
        Permission::Denied => StartPlan::ReportDenied,
        Permission::Prompt | Permission::Unknown => StartPlan::AwaitGesture,
    }
}

/// The outcome of one `persist()`: "granted"/"denied" at start, "granted-on-gesture"/"denied-on-gesture",
/// "granted-on-request"/"denied-on-request".
pub fn asked_outcome(granted: bool, by: AskedBy) -> &'static str {
    match (granted, by) {
        (true, AskedBy::Start) => "granted",
        (false, AskedBy::Start) => "denied",
        (true, AskedBy::Gesture) => "granted-on-gesture",
        (false, AskedBy::Gesture) => "denied-on-gesture",
        (true, AskedBy::Request) => "granted-on-request",
        (false, AskedBy::Request) => "denied-on-request",
    }
}

/// After a `persist()` at start that was denied, is it asked again on the next gesture? Yes: some
/// browsers only grant on a gesture. (After a gesture or a request, the host asks again if it wants.)
pub fn ask_again_on_gesture(granted: bool, by: AskedBy) -> bool {
    !granted && by == AskedBy::Start
}

/// On the first gesture: ask unless already persistent (granted meanwhile, e.g. by a request).
pub fn ask_on_gesture(persisted: Option<bool>) -> bool {
    persisted != Some(true)
}

/// The outcome at start, for each plan ("asking" while `persist()` has not answered).
pub fn start_outcome(plan: StartPlan) -> &'static str {
    match plan {
        StartPlan::AlreadyPersisted => "already-persisted",
        StartPlan::AskNow => "asking",
        StartPlan::ReportDenied => "denied",
        StartPlan::AwaitGesture => "awaiting-gesture",
    }
}

/// The state reported before anything is known, and where nothing is asked.
pub const PENDING: &str = "pending";
pub const ASKING: &str = "asking";
pub const UNSUPPORTED: &str = "unsupported";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_already_persistent_origin_is_reported_and_never_asked() {
        for p in [Permission::Granted, Permission::Denied, Permission::Prompt, Permission::Unknown] {
            assert_eq!(start_plan(true, p), StartPlan::AlreadyPersisted);
        }
        assert_eq!(start_outcome(StartPlan::AlreadyPersisted), "already-persisted");
    }

    #[test]
    fn where_asking_may_prompt_nothing_is_asked_at_load() {
        // Firefox: "prompt"; an engine without the Permissions API's answer: unknown. Both wait for a gesture.
        assert_eq!(start_plan(false, Permission::Prompt), StartPlan::AwaitGesture);
        assert_eq!(start_plan(false, Permission::Unknown), StartPlan::AwaitGesture);
        assert_eq!(start_outcome(StartPlan::AwaitGesture), "awaiting-gesture");
        assert!(ask_on_gesture(Some(false)));
        assert!(ask_on_gesture(None));
        assert!(!ask_on_gesture(Some(true)), "granted meanwhile: the gesture asks nothing");
    }

    #[test]
    fn a_decided_permission_is_followed_at_start() {
        assert_eq!(start_plan(false, Permission::Granted), StartPlan::AskNow);
        assert_eq!(start_outcome(StartPlan::AskNow), "asking");
        assert_eq!(start_plan(false, Permission::Denied), StartPlan::ReportDenied);
        assert_eq!(start_outcome(StartPlan::ReportDenied), "denied");
    }

    #[test]
    fn each_answer_is_reported_with_who_asked() {
        assert_eq!(asked_outcome(true, AskedBy::Start), "granted");
        assert_eq!(asked_outcome(false, AskedBy::Start), "denied");
        assert_eq!(asked_outcome(true, AskedBy::Gesture), "granted-on-gesture");
        assert_eq!(asked_outcome(false, AskedBy::Gesture), "denied-on-gesture");
        assert_eq!(asked_outcome(true, AskedBy::Request), "granted-on-request");
        assert_eq!(asked_outcome(false, AskedBy::Request), "denied-on-request");
    }

    #[test]
    fn only_a_denial_at_start_is_asked_again_on_the_next_gesture() {
        assert!(ask_again_on_gesture(false, AskedBy::Start));
        assert!(!ask_again_on_gesture(true, AskedBy::Start));
        assert!(!ask_again_on_gesture(false, AskedBy::Gesture));
        assert!(!ask_again_on_gesture(false, AskedBy::Request));
    }

    #[test]
    fn permission_states_read_as_the_permissions_api_names_them() {
        assert_eq!(Permission::from_state(Some("granted")), Permission::Granted);
        assert_eq!(Permission::from_state(Some("denied")), Permission::Denied);
        assert_eq!(Permission::from_state(Some("prompt")), Permission::Prompt);
        assert_eq!(Permission::from_state(Some("other")), Permission::Unknown);
        assert_eq!(Permission::from_state(None), Permission::Unknown);
    }
}
