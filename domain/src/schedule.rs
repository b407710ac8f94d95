//! When a routine fires: five-field cron expressions in a time zone, fixed
//! intervals, and catch-up after downtime. Pure functions of the time they
//! are given, so schedules are tested without waiting.
//!
//! Cron follows Vixie cron, the `cron` of most Unix systems, including across
//! daylight-saving changes:
//! - when clocks go forward, a time that does not exist that day fires at
//!   the first instant after the change (a job at 02:30 runs at 03:00);
//! - when clocks go back, a time that happens twice fires once, the first
//!   time;
//! - a job whose hour field is `*` runs by the hours that really pass: it
//!   fires in both passes of a repeated hour, and has nothing to fire in a
//!   skipped one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::DomainError;

/// How far ahead a cron expression is searched: an expression that does not
/// fire within this many years (`0 0 30 2 *`) never fires.
const SEARCH_YEARS: i32 = 5;

/// A parsed five-field cron expression: minute, hour, day of month, month,
/// day of week (0–7, both 0 and 7 are Sunday; names `JAN`–`DEC`,
/// `SUN`–`SAT`), with `*`, lists, ranges and steps, or one of `@yearly`
/// (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    /// Days match by day of month OR day of week when both are restricted
    /// (Vixie cron); otherwise by both.
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
    every_hour: bool,
    expression: String,
}

/// Why a cron expression or time zone was refused; the message names the
/// part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl ScheduleError {
    /// As an input error on `field`.
    pub fn on_field(self, field: &str) -> DomainError {
        DomainError::bad_input(field, self.0)
    }
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Field {
    fn value(&self, text: &str) -> Result<u32, ScheduleError> {
        let upper = text.to_ascii_uppercase();
        if let Some(index) = self.names.iter().position(|name| *name == upper) {
            let index = u32::try_from(index).unwrap_or(0);
            return Ok(index + if self.names.len() == 12 { 1 } else { 0 });
        }
        let value: u32 = text
            .parse()
            .map_err(|_| ScheduleError(format!("`{text}` is not a valid {} value", self.name)))?;
        if value < self.min || value > self.max {
            return Err(ScheduleError(format!(
                "{} must be between {} and {}, not {value}",
                self.name, self.min, self.max
            )));
        }
        Ok(value)
    }

    /// The values the field matches as a bit set, and whether it was `*`.
    fn parse(&self, text: &str) -> Result<(u64, bool), ScheduleError> {
        let mut bits = 0u64;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        ScheduleError(format!(
                            "`{step}` is not a valid step in the {} field",
                            self.name
                        ))
                    })?;
                    (range, step)
                }
                None => (part, 1),
            };
            let (first, last) = if range == "*" {
                (self.min, self.max)
            } else if let Some((first, last)) = range.split_once('-') {
                (self.value(first)?, self.value(last)?)
            } else {
                let first = self.value(range)?;
                // `5/15` means from 5 to the end in steps of 15.
                (first, if part.contains('/') { self.max } else { first })
            };
            if first > last {
                return Err(ScheduleError(format!(
                    "the range `{range}` in the {} field runs backwards",
                    self.name
                )));
            }
            let mut value = first;
            while value <= last {
                bits |= 1 << value;
                value += step;
            }
        }
        Ok((bits, text == "*"))
    }
}

impl FromStr for CronSchedule {
    type Err = ScheduleError;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let expression = expression.trim();
        let expanded = match expression {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(ScheduleError(format!("unknown shorthand `{other}`")));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(ScheduleError(format!(
                "a cron expression has five fields (minute hour day-of-month month day-of-week), not {}",
                fields.len()
            )));
        };
        let (minutes, _) = MINUTE.parse(minute)?;
        let (hours, every_hour) = HOUR.parse(hour)?;
        let (days_of_month, any_day_of_month) = DAY_OF_MONTH.parse(day_of_month)?;
        let (months, _) = MONTH.parse(month)?;
        let (mut days_of_week, any_day_of_week) = DAY_OF_WEEK.parse(day_of_week)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        // The bit sets were built within each field's bounds, so they fit.
        Ok(Self {
            minutes,
            hours: u32::try_from(hours).unwrap_or(u32::MAX),
            days_of_month: u32::try_from(days_of_month).unwrap_or(u32::MAX),
            months: u16::try_from(months).unwrap_or(u16::MAX),
            days_of_week: u8::try_from(days_of_week & 0x7f).unwrap_or(u8::MAX),
            day_of_month_restricted: !any_day_of_month,
            day_of_week_restricted: !any_day_of_week,
            every_hour,
            expression: expression.to_owned(),
        })
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl CronSchedule {
    fn matches_day(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let by_month_day = self.days_of_month & (1 << date.day()) != 0;
        let by_week_day = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month_day || by_week_day,
            (true, false) => by_month_day,
            (false, true) => by_week_day,
            (false, false) => true,
        }
    }

    /// The local times the expression names, in order, from the start of `from`'s day.
    fn local_times(&self, from: NaiveDate) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let last_day = from + Duration::days(366 * i64::from(SEARCH_YEARS));
        from.iter_days()
            .take_while(move |day| *day <= last_day)
            .filter(|day| self.matches_day(*day))
            .flat_map(move |day| {
                (0..24u32)
                    .filter(|hour| self.hours & (1 << hour) != 0)
                    .flat_map(move |hour| {
                        (0..60u32)
                            .filter(|minute| self.minutes & (1 << minute) != 0)
                            .filter_map(move |minute| day.and_hms_opt(hour, minute, 0))
                    })
            })
    }

    /// The instants a local time of the expression fires at in `zone` (see
    /// the module docs for daylight-saving changes).
    fn instants(&self, local: NaiveDateTime, zone: Tz) -> Vec<DateTime<Utc>> {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(at) => vec![at.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) => {
                if self.every_hour {
                    vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
                } else {
                    vec![first.with_timezone(&Utc)]
                }
            }
            LocalResult::None if self.every_hour => Vec::new(),
            // A skipped time fires when the clocks have moved past it.
            LocalResult::None => (1..=4 * 60)
                .map(|minutes| local + Duration::minutes(minutes))
                .find_map(|later| zone.from_local_datetime(&later).earliest())
                .map(|at| at.with_timezone(&Utc))
                .into_iter()
                .collect(),
        }
    }

    /// The first time after `after` that the expression fires in `zone`;
    /// `None` when it does not fire within five years.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&zone).naive_local();
        // Local times and instants are in the same order except across a
        // change of offset, which moves them by a few hours at most: look a
        // day back, and keep looking a few hours past the first find.
        let start = local_after.date().pred_opt()?;
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        for local in self.local_times(start) {
            if let Some((_, found_local)) = best
                && local > found_local + Duration::hours(4)
            {
                break;
            }
            for instant in self.instants(local, zone) {
                if instant > after && best.is_none_or(|(earliest, _)| instant < earliest) {
                    best = Some((instant, local));
                }
            }
        }
        best.map(|(instant, _)| instant)
    }
}

/// An IANA time zone name (`Europe/Paris`, `UTC`).
pub fn time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.trim().parse().map_err(|_| {
        ScheduleError(format!(
            "`{name}` is not an IANA time zone name such as Europe/Paris"
        ))
    })
}

/// The next tick of an interval schedule: the first `anchor + k·every`
/// after `after`. Ticks stay on the anchor's grid, so a late run does not
/// shift the ones after it.
pub fn next_interval(
    anchor: DateTime<Utc>,
    every: Duration,
    after: DateTime<Utc>,
) -> DateTime<Utc> {
    let every_ms = every.num_milliseconds().max(1);
    if after < anchor {
        return anchor;
    }
    let elapsed = (after - anchor).num_milliseconds();
    let ticks = elapsed / every_ms + 1;
    anchor + Duration::milliseconds(ticks * every_ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cron(expression: &str) -> CronSchedule {
        expression.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The next `count` firings after `from`, as RFC 3339 in UTC.
    fn firings(expression: &str, zone: &str, from: &str, count: usize) -> Vec<String> {
        let schedule = cron(expression);
        let zone = time_zone(zone).unwrap();
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..count {
            at = schedule.next_after(at, zone).unwrap();
            out.push(at.to_rfc3339());
        }
        out
    }

    #[test]
    fn parses_fields_lists_ranges_steps_and_names() {
        assert_eq!(
            firings("*/20 9-10 * * MON-FRI", "UTC", "2026-03-06T10:30:00Z", 3),
            [
                "2026-03-06T10:40:00+00:00",
                "2026-03-09T09:00:00+00:00",
                "2026-03-09T09:20:00+00:00",
            ]
        );
        assert_eq!(
            firings("0 12 1 JAN,jul *", "UTC", "2026-02-01T00:00:00Z", 2),
            ["2026-07-01T12:00:00+00:00", "2027-01-01T12:00:00+00:00"]
        );
        assert_eq!(
            firings("@weekly", "UTC", "2026-03-04T00:00:00Z", 1),
            ["2026-03-08T00:00:00+00:00"]
        );
        // Day of month OR day of week when both are given; 7 is Sunday.
        assert_eq!(
            firings("0 0 13 * 7", "UTC", "2026-03-01T00:00:00Z", 3),
            [
                "2026-03-08T00:00:00+00:00",
                "2026-03-13T00:00:00+00:00",
                "2026-03-15T00:00:00+00:00",
            ]
        );
    }

    #[test]
    fn refuses_bad_expressions_with_the_reason() {
        for (bad, says) in [
            ("* * * *", "five fields"),
            ("60 * * * *", "minute must be between 0 and 59"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("@often", "unknown shorthand"),
            ("x * * * *", "not a valid minute"),
        ] {
            let error = bad.parse::<CronSchedule>().unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("Europe/Paris").is_ok());
    }

    #[test]
    fn follows_the_zone_s_local_time() {
        assert_eq!(
            firings("0 9 * * *", "America/New_York", "2026-01-10T00:00:00Z", 1),
            ["2026-01-10T14:00:00+00:00"]
        );
        assert_eq!(
            firings("0 9 * * *", "America/New_York", "2026-07-10T00:00:00Z", 1),
            ["2026-07-10T13:00:00+00:00"]
        );
    }

    #[test]
    fn a_skipped_time_fires_when_the_clocks_have_moved_past_it() {
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        assert_eq!(
            firings("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T07:00:00+00:00",
                "2026-03-09T06:30:00+00:00",
                "2026-03-10T06:30:00+00:00",
            ]
        );
        // Hourly jobs have no 02:xx that day.
        assert_eq!(
            firings("30 * * * *", "America/New_York", "2026-03-08T06:00:00Z", 2),
            ["2026-03-08T06:30:00+00:00", "2026-03-08T07:30:00+00:00"]
        );
    }

    #[test]
    fn a_repeated_time_fires_once_unless_the_hour_is_a_wildcard() {
        // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens
        // at 05:30 and at 06:30 UTC.
        assert_eq!(
            firings("30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z", 2),
            ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
        );
        assert_eq!(
            firings("30 * * * *", "America/New_York", "2026-11-01T04:00:00Z", 4),
            [
                "2026-11-01T04:30:00+00:00",
                "2026-11-01T05:30:00+00:00",
                "2026-11-01T06:30:00+00:00",
                "2026-11-01T07:30:00+00:00",
            ]
        );
    }

    #[test]
    fn impossible_dates_never_fire() {
        assert_eq!(
            cron("0 0 30 2 *").next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC),
            None
        );
        assert_eq!(
            firings("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00+00:00"]
        );
    }

    #[test]
    fn intervals_stay_on_their_grid() {
        let anchor = utc("2026-01-01T00:00:00Z");
        let every = Duration::seconds(90);
        assert_eq!(
            next_interval(anchor, every, utc("2025-12-31T00:00:00Z")),
            anchor
        );
        assert_eq!(
            next_interval(anchor, every, anchor),
            utc("2026-01-01T00:01:30Z")
        );
        assert_eq!(
            next_interval(anchor, every, utc("2026-01-01T01:00:10Z")),
            utc("2026-01-01T01:01:30Z")
        );
    }

    proptest::proptest! {
        /// Any text, and text made of cron's own alphabet: parsing answers
        /// (never panics), and a schedule that parses gives a next time
        /// after the given one, or none.
        #[test]
        fn cron_parsing_and_the_next_run_never_panic(
            text in proptest::prop_oneof![
                "\\PC{0,40}",
                "[0-9*,/ -]{1,30}",
                "(@[a-z]{0,10}|[0-9A-Z*,/-]{1,6}( [0-9A-Z*,/-]{1,6}){0,6})",
            ],
            seconds in 0_i64..4_000_000_000,
        ) {
            if let Ok(schedule) = text.parse::<CronSchedule>() {
                let after = DateTime::from_timestamp(seconds, 0).unwrap();
                if let Some(next) = schedule.next_after(after, chrono_tz::Europe::Berlin) {
                    proptest::prop_assert!(next > after, "{text}: {next} not after {after}");
                }
            }
        }
    }
}
