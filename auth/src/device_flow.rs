//! The device authorization grant (RFC 8628): device and user codes, and
//! what a device's poll of the token endpoint answers. Time is passed in;
//! where the state is kept is the caller's business.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use crate::secrets::generate_token;

/// Consonants only (RFC 8628 §6.1): no vowels, so no words, and none of
/// the letters that look like digits.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// 20^8 ≈ 2^34.6 codes.
pub const USER_CODE_LENGTH: usize = 8;
/// `slow_down` makes the device wait this much longer (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: i32 = 5;
const DEVICE_CODE_PREFIX: &str = "dc_";

/// A device code: `dc_` and 256 random bits. Store it with [`crate::hash_token`].
pub fn generate_device_code() -> String {
    generate_token(DEVICE_CODE_PREFIX)
}

/// Eight letters of [`USER_CODE_ALPHABET`], uniform, from a CSPRNG, in the
/// canonical form (no dash); show it with [`display_user_code`].
pub fn generate_user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LENGTH)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn display_user_code(canonical: &str) -> String {
    let half = canonical.len() / 2;
    format!("{}-{}", &canonical[..half], &canonical[half..])
}

/// What a person typed, in canonical form: upper case, without dashes and
/// spaces. `None` unless that is eight letters of the alphabet.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let canonical: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = canonical.len() == USER_CODE_LENGTH
        && canonical.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(canonical)
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Its tokens were issued: the device code is spent.
    Exchanged,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Exchanged => "exchanged",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "pending" => Some(DeviceStatus::Pending),
            "approved" => Some(DeviceStatus::Approved),
            "denied" => Some(DeviceStatus::Denied),
            "exchanged" => Some(DeviceStatus::Exchanged),
            _ => None,
        }
    }
}

/// What the token endpoint needs to know of an authorization to answer a poll.
#[derive(Debug, Clone, Copy)]
pub struct DeviceGrant {
    pub status: DeviceStatus,
    pub expires_at: DateTime<Utc>,
    pub interval_secs: i32,
    pub last_polled_at: Option<DateTime<Utc>>,
}

/// The answer to a poll (RFC 8628 §3.5). Every poll but one of a spent
/// code is recorded (`last_polled_at = now`, with `interval_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: polled sooner than the interval, which is now `interval_secs`.
    SlowDown { interval_secs: i32 },
    /// `expired_token`.
    Expired,
    /// `access_denied`.
    Denied,
    /// Issue the tokens (once: the caller claims the authorization).
    Approved,
    /// `invalid_grant`: the code was exchanged already.
    Spent,
}

impl DeviceGrant {
    /// Decides a poll at `now`. A spent code stays spent and an expired one
    /// expired, however fast they are polled; a poll sooner than the
    /// interval after the last is `slow_down`, whatever the state.
    pub fn poll(&self, now: DateTime<Utc>) -> Poll {
        if self.status == DeviceStatus::Exchanged {
            return Poll::Spent;
        }
        if now >= self.expires_at {
            return Poll::Expired;
        }
        if let Some(last) = self.last_polled_at
            && now < last + Duration::seconds(i64::from(self.interval_secs))
        {
            return Poll::SlowDown {
                interval_secs: self.interval_secs + SLOW_DOWN_STEP_SECS,
            };
        }
        match self.status {
            DeviceStatus::Pending => Poll::Pending,
            DeviceStatus::Denied => Poll::Denied,
            DeviceStatus::Approved => Poll::Approved,
            DeviceStatus::Exchanged => Poll::Spent,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(seconds)
    }

    fn grant(status: DeviceStatus, last_polled: Option<i64>) -> DeviceGrant {
        DeviceGrant {
            status,
            expires_at: t(600),
            interval_secs: 5,
            last_polled_at: last_polled.map(t),
        }
    }

    #[test]
    fn user_codes_use_the_alphabet() {
        for _ in 0..200 {
            let code = generate_user_code();
            assert_eq!(code.len(), 8);
            assert!(
                code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
            assert_eq!(normalize_user_code(&display_user_code(&code)), Some(code));
        }
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("BCDFGHJK").as_deref(), Some("BCDFGHJK"));
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-GHJK",
            "BCDF-GHJ1",
            "ＢCDF-GHJK",
        ] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn polls_follow_the_rfc() {
        assert_eq!(grant(DeviceStatus::Pending, None).poll(t(0)), Poll::Pending);
        assert_eq!(
            grant(DeviceStatus::Pending, Some(0)).poll(t(5)),
            Poll::Pending
        );
        assert_eq!(
            grant(DeviceStatus::Pending, Some(0)).poll(t(4)),
            Poll::SlowDown { interval_secs: 10 }
        );
        assert_eq!(
            grant(DeviceStatus::Approved, Some(0)).poll(t(4)),
            Poll::SlowDown { interval_secs: 10 }
        );
        assert_eq!(
            grant(DeviceStatus::Approved, Some(0)).poll(t(5)),
            Poll::Approved
        );
        assert_eq!(grant(DeviceStatus::Denied, None).poll(t(5)), Poll::Denied);
        assert_eq!(
            grant(DeviceStatus::Pending, Some(599)).poll(t(600)),
            Poll::Expired
        );
        assert_eq!(
            grant(DeviceStatus::Approved, None).poll(t(600)),
            Poll::Expired
        );
        assert_eq!(
            grant(DeviceStatus::Exchanged, Some(0)).poll(t(1)),
            Poll::Spent
        );
        assert_eq!(
            grant(DeviceStatus::Exchanged, None).poll(t(900)),
            Poll::Spent
        );
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Exchanged,
        ] {
            assert_eq!(DeviceStatus::parse(status.as_str()), Some(status));
        }
    }
}
