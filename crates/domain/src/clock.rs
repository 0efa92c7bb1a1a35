//! Injected time.
//!
//! Deadlines, automatic abandonments, counters reset each month and disaster-recovery
//! drills all depend on "now". Code asks a [`Clock`] (usually a [`SharedClock`])
//! instead of calling `Utc::now()`, which `clippy.toml` forbids everywhere but in
//! [`SystemClock`]; tests and drills use a [`ManualClock`] and move time explicitly.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared between tasks and services.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl SystemClock {
    /// The real clock, ready to share.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the system clock is the one place allowed to read the real time"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Clones share the same time, so a test
/// can keep one handle and give another (or a [`SharedClock`]) to the code under test.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A shared handle on the same time.
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }

    /// Moves the clock to `t` (backwards too, to test clock skew).
    pub fn set(&self, t: DateTime<Utc>) {
        // A poisoned lock still holds a valid instant: keep using it.
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = t;
    }

    /// Moves the clock by `by` (negative to go back), saturating at chrono's limits.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add_signed(by)
            .unwrap_or(if by < Duration::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_manual_clock_stands_still_until_moved() {
        let clock = ManualClock::new(t("2025-03-01T08:00:00Z"));
        assert_eq!(clock.now(), t("2025-03-01T08:00:00Z"));
        assert_eq!(clock.now(), t("2025-03-01T08:00:00Z"));
        clock.advance(Duration::days(61));
        assert_eq!(clock.now(), t("2025-05-01T08:00:00Z"));
        clock.set(t("2024-12-31T23:59:59Z"));
        assert_eq!(clock.now(), t("2024-12-31T23:59:59Z"));
        clock.advance(Duration::seconds(-59));
        assert_eq!(clock.now(), t("2024-12-31T23:59:00Z"));
    }

    #[test]
    fn clones_and_shared_handles_see_the_same_time() {
        let clock = ManualClock::new(t("2025-03-01T08:00:00Z"));
        let shared: SharedClock = clock.shared();
        let copy = clock.clone();
        copy.advance(Duration::hours(2));
        assert_eq!(shared.now(), t("2025-03-01T10:00:00Z"));
        assert_eq!(clock.now(), t("2025-03-01T10:00:00Z"));
    }

    #[test]
    fn advancing_past_the_end_of_time_saturates() {
        let clock = ManualClock::new(DateTime::<Utc>::MAX_UTC - Duration::days(1));
        clock.advance(Duration::days(3));
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn the_system_clock_moves_forward() {
        let clock = SystemClock::shared();
        let first = clock.now();
        let second = clock.now();
        assert!(second >= first);
        assert!(first > t("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn clocks_are_shareable_across_threads() {
        fn assert_shareable<T: Send + Sync + 'static>() {}
        assert_shareable::<SharedClock>();
        assert_shareable::<ManualClock>();
    }
}
