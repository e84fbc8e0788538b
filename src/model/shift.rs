//! Working hours: a shift is weekly intervals in one IANA time zone, with
//! holidays. An interval belongs to the day it starts on (it may pass
//! midnight: `["22:00", "06:00"]`), a holiday cancels the intervals that
//! start on it, and breaks are the gaps. Local times are turned into
//! instants in the shift's zone on each day, so an interval the clock
//! change shortens or lengthens is exactly as long as the wall clock says.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Timestamp;

/// How many shifts an account may have.
pub const MAX_SHIFTS: usize = 100;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A shift of the account document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub id: u64,
    pub name: String,
    /// An IANA zone (`Europe/Berlin`).
    pub tz: String,
    /// Weekday (`mon` ... `sun`) → `[start, end]` local `HH:MM` pairs.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<(String, String)>>,
    /// Local dates (`2026-12-25`) when no interval starts.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn time(text: &str, shift: u64) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| Error::Invalid(format!("shift `{shift}`: `{text}` is not a time (HH:MM)")))
}

impl Shift {
    /// Checks the zone, the day names, the times and the dates.
    ///
    /// # Errors
    /// `Invalid` naming what is wrong.
    pub(crate) fn check(&self) -> Result<()> {
        self.zone()?;
        for (day, intervals) in &self.weekly {
            if !DAYS.contains(&day.as_str()) {
                return Err(Error::Invalid(format!(
                    "shift `{}`: `{day}` is not a day (mon ... sun)",
                    self.id
                )));
            }
            for (s, e) in intervals {
                if time(s, self.id)? == time(e, self.id)? {
                    return Err(Error::Invalid(format!(
                        "shift `{}`: an interval `{s}`-`{e}` is empty",
                        self.id
                    )));
                }
            }
        }
        for h in &self.holidays {
            NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|_| {
                Error::Invalid(format!(
                    "shift `{}`: `{h}` is not a date (YYYY-MM-DD)",
                    self.id
                ))
            })?;
        }
        Ok(())
    }

    fn zone(&self) -> Result<Tz> {
        self.tz.parse::<Tz>().map_err(|_| {
            Error::Invalid(format!(
                "shift `{}`: `{}` is not an IANA time zone",
                self.id, self.tz
            ))
        })
    }

    /// The shift read once: zone, times and holidays parsed (what every
    /// request checks against; `Engine` keeps it per directory version).
    pub(crate) fn hours(&self) -> Result<Hours> {
        self.check()?;
        let mut weekly: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        for (day, list) in &self.weekly {
            let Some(i) = DAYS.iter().position(|d| d == day) else {
                continue;
            };
            for (s, e) in list {
                weekly[i].push((time(s, self.id)?, time(e, self.id)?));
            }
        }
        Ok(Hours {
            tz: self.zone()?,
            weekly,
            holidays: self
                .holidays
                .iter()
                .filter_map(|h| NaiveDate::parse_from_str(h, "%Y-%m-%d").ok())
                .collect(),
        })
    }

    /// Whether `at` is within one of the shift's intervals; if not, when
    /// the next one starts (`None`: none within a year, or a bad shift).
    #[cfg(test)]
    pub(crate) fn at(&self, at: Timestamp) -> std::result::Result<(), Option<Timestamp>> {
        self.hours().map_or(Err(None), |h| h.at(at))
    }
}

/// A [`Shift`] parsed.
#[derive(Clone, Debug)]
pub(crate) struct Hours {
    tz: Tz,
    /// Monday first.
    weekly: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: std::collections::BTreeSet<NaiveDate>,
}

impl Hours {
    /// The intervals, as instants, that start on local `day`.
    fn intervals_of(
        &self,
        day: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let list: &[(NaiveTime, NaiveTime)] = if self.holidays.contains(&day) {
            &[]
        } else {
            &self.weekly[day.weekday().num_days_from_monday() as usize]
        };
        list.iter().filter_map(move |&(s, e)| {
            let end_day = if e > s { day } else { day.succ_opt()? };
            let start = instant(self.tz, day.and_time(s), true);
            let end = instant(self.tz, end_day.and_time(e), false);
            (start < end).then_some((start, end))
        })
    }

    /// Whether `at` is within one of the intervals; if not, when the next
    /// one starts (`None`: none within a year).
    pub(crate) fn at(&self, at: Timestamp) -> std::result::Result<(), Option<Timestamp>> {
        let Some(utc) = DateTime::<Utc>::from_timestamp_micros(at.0) else {
            return Err(None);
        };
        let today = utc.with_timezone(&self.tz).date_naive();
        let mut next: Option<DateTime<Utc>> = None;
        // From yesterday (an interval passing midnight) a year ahead.
        let mut day = today.pred_opt().unwrap_or(today);
        for _ in 0..368 {
            for (start, end) in self.intervals_of(day) {
                if start <= utc && utc < end {
                    return Ok(());
                }
                if start > utc && next.is_none_or(|n| start < n) {
                    next = Some(start);
                }
            }
            if next.is_some_and(|n| n.with_timezone(&self.tz).date_naive() < day) {
                break;
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        Err(next.map(|n| Timestamp(n.timestamp_micros())))
    }
}

/// The instant a local time names in `tz`. A time the clock skipped (the
/// spring-forward gap) is the moment the clock jumped; a time it passed
/// twice is the first for a start and the second for an end (the longer
/// interval: what the wall clock shows).
fn instant(tz: Tz, local: NaiveDateTime, start: bool) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..=180 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                return if start { a } else { b }.with_timezone(&Utc);
            }
            LocalResult::None => t += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(tz: &str, weekly: &[(&str, &str, &str)], holidays: &[&str]) -> Shift {
        let mut w: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (d, s, e) in weekly {
            w.entry((*d).into())
                .or_default()
                .push(((*s).into(), (*e).into()));
        }
        Shift {
            id: 1,
            name: "s".into(),
            tz: tz.into(),
            weekly: w,
            holidays: holidays.iter().map(|h| (*h).to_string()).collect(),
        }
    }

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn office_hours_with_a_break_a_night_interval_and_a_holiday() {
        let s = shift(
            "Europe/Berlin",
            &[
                ("mon", "09:00", "13:00"),
                ("mon", "14:00", "18:00"),
                ("sat", "22:00", "06:00"),
            ],
            &["2026-12-07"],
        );
        s.check().unwrap();
        // Monday 2026-11-30, Berlin is UTC+1 in winter.
        assert!(s.at(utc("2026-11-30T08:00:00Z")).is_ok()); // 09:00 local
        assert_eq!(
            s.at(utc("2026-11-30T12:30:00Z")),
            Err(Some(utc("2026-11-30T13:00:00Z")))
        ); // the break
        assert!(s.at(utc("2026-11-30T16:59:59Z")).is_ok());
        assert!(s.at(utc("2026-11-30T17:00:00Z")).is_err()); // 18:00: the end is out
                                                             // Saturday night into Sunday morning belongs to Saturday.
        assert!(s.at(utc("2026-12-06T04:00:00Z")).is_ok()); // Sun 05:00 local
        assert!(s.at(utc("2026-12-06T05:00:00Z")).is_err()); // Sun 06:00
                                                             // Monday 2026-12-07 is a holiday: next is Saturday's night.
        assert_eq!(
            s.at(utc("2026-12-07T09:00:00Z")),
            Err(Some(utc("2026-12-12T21:00:00Z")))
        );
    }

    #[test]
    fn daylight_saving_changes_shorten_and_lengthen_an_interval_as_the_clock_does() {
        // Berlin 2026-03-29: 02:00 → 03:00. Sunday 01:00–05:00 local is 3 hours.
        let spring = shift("Europe/Berlin", &[("sun", "01:00", "05:00")], &[]);
        assert!(spring.at(utc("2026-03-29T00:00:00Z")).is_ok()); // 01:00 CET
        assert!(spring.at(utc("2026-03-29T02:59:59Z")).is_ok()); // 04:59 CEST
        assert!(spring.at(utc("2026-03-29T03:00:00Z")).is_err()); // 05:00 CEST
                                                                  // Berlin 2026-10-25: 03:00 → 02:00. 01:00–05:00 local is 5 hours.
        let autumn = shift("Europe/Berlin", &[("sun", "01:00", "05:00")], &[]);
        assert!(autumn.at(utc("2026-10-24T23:00:00Z")).is_ok()); // 01:00 CEST
        assert!(autumn.at(utc("2026-10-25T03:59:59Z")).is_ok()); // 04:59 CET
        assert!(autumn.at(utc("2026-10-25T04:00:00Z")).is_err());
        // New York 2026-03-08 02:00 → 03:00: an interval starting in the gap
        // starts when the clock jumps.
        let gap = shift("America/New_York", &[("sun", "02:30", "04:00")], &[]);
        assert!(gap.at(utc("2026-03-08T06:59:59Z")).is_err()); // 01:59 EST
        assert!(gap.at(utc("2026-03-08T07:00:00Z")).is_ok()); // 03:00 EDT
        assert!(gap.at(utc("2026-03-08T08:00:00Z")).is_err()); // 04:00 EDT
                                                               // New York 2026-11-01 02:00 → 01:00: 00:30–01:30 spans both 01:xx.
        let twice = shift("America/New_York", &[("sun", "00:30", "01:30")], &[]);
        assert!(twice.at(utc("2026-11-01T04:30:00Z")).is_ok()); // 00:30 EDT
        assert!(twice.at(utc("2026-11-01T06:15:00Z")).is_ok()); // 01:15 EST (second time)
        assert!(twice.at(utc("2026-11-01T06:30:00Z")).is_err()); // 01:30 EST
    }

    #[test]
    fn bad_zones_days_times_and_dates_are_refused_by_name() {
        for (s, says) in [
            (shift("Mars/Olympus", &[], &[]), "Mars/Olympus"),
            (shift("UTC", &[("funday", "09:00", "10:00")], &[]), "funday"),
            (shift("UTC", &[("mon", "9am", "10:00")], &[]), "9am"),
            (shift("UTC", &[("mon", "10:00", "10:00")], &[]), "empty"),
            (shift("UTC", &[], &["25.12.2026"]), "25.12.2026"),
        ] {
            let e = s.check().unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
