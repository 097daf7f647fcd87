use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A UTC instant with millisecond precision, stored as unix milliseconds and
/// shown to clients as RFC 3339 with a `Z`, e.g. `2024-06-16T12:34:56.789Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Written by hand: every message in every page is formatted, and the
    /// general formatter was a visible share of a history request.
    pub fn to_rfc3339(self) -> String {
        use std::fmt::Write;
        let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000) else {
            // Out-of-range instants cannot come from the clock or the store;
            // show the epoch rather than fail a whole response.
            return "1970-01-01T00:00:00.000Z".to_owned();
        };
        let year = t.year();
        if !(0..=9999).contains(&year) {
            let mut out = String::with_capacity(28);
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                year,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            return out;
        }
        // Digits written by hand: every message in a history page carries a
        // timestamp or two, and `write!` made this 4% of the server's CPU
        // on the history load.
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, u8::from(t.month()).into());
        put(8, 2, t.day().into());
        put(11, 2, t.hour().into());
        put(14, 2, t.minute().into());
        put(17, 2, t.second().into());
        put(20, 3, t.millisecond().into());
        out.iter().map(|&b| b as char).collect()
    }

    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(
            Timestamp(1_718_541_296_789).to_rfc3339(),
            "2024-06-16T12:34:56.789Z"
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2024-06-16T12:34:56.789Z"),
            Some(Timestamp(1_718_541_296_789))
        );
    }

    #[test]
    fn formats_every_field_padded_and_reads_back() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_000_000_000_007).to_rfc3339(),
            "2001-09-09T01:46:40.007Z"
        );
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            Timestamp(253_402_300_799_999).to_rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
        for ms in (0..4_102_444_800_000i64).step_by(7_777_777_777) {
            let text = Timestamp(ms).to_rfc3339();
            assert_eq!(
                Timestamp::parse_rfc3339(&text),
                Some(Timestamp(ms)),
                "{text}"
            );
        }
    }
}
