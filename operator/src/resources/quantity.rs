//! Human-written quantities in desired-state: memory sizes (`300M`, `1.5G`), CPU counts
//! (`0.5`) and durations (`10s`, `1m30s`).
//!
//! Each keeps the text the user wrote (plans show it back to them) next to the exact value
//! the engine wants (bytes, nano-CPUs, nanoseconds). Parsing happens while deserializing,
//! so a malformed value is reported at its own line and column.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A memory size. Units are binary, as in `docker service create --limit-memory`:
/// `K`=1024, `M`=1024², `G`=1024³, `T`=1024⁴; a bare number is bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemorySize {
    bytes: u64,
    text: String,
}

impl MemorySize {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(format!("size {text:?} is negative"));
        }
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number.parse().map_err(|_| {
            format!("invalid size {text:?}: expected a number with an optional unit K, M, G or T")
        })?;
        let unit = unit.trim();
        let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => {
                return Err(format!(
                    "invalid size {text:?}: unknown unit {unit:?} (use K, M, G or T)"
                ));
            }
        };
        let bytes = number * multiplier as f64;
        // Docker holds a size as a signed 64-bit count of bytes (8 exbibytes less a byte).
        if !bytes.is_finite() || bytes >= i64::MAX as f64 {
            return Err(format!(
                "size {text:?} is larger than Docker can hold (8388607T)"
            ));
        }
        Ok(MemorySize {
            bytes: bytes.round() as u64,
            text: trimmed.to_string(),
        })
    }

    pub fn canonical(&self) -> Self {
        Self::from_bytes(self.bytes)
    }

    /// The shortest exact rendering in binary units, used to show engine values
    /// (`314572800` -> `300M`) in the same vocabulary as desired-state.
    pub fn from_bytes(bytes: u64) -> Self {
        let units = [
            ("T", 1u64 << 40),
            ("G", 1 << 30),
            ("M", 1 << 20),
            ("K", 1 << 10),
        ];
        let text = units
            .iter()
            .find(|(_, size)| bytes >= *size && bytes.is_multiple_of(*size))
            .map(|(unit, size)| format!("{}{unit}", bytes / size))
            .unwrap_or_else(|| bytes.to_string());
        MemorySize { bytes, text }
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `320M`, `1G`, `23.5G`: in the largest unit it reaches, to one decimal unless exact.
pub fn approximate(bytes: u64) -> String {
    let units = [
        ("T", 1u64 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    match units.iter().find(|(_, scale)| bytes >= *scale) {
        Some((unit, scale)) if bytes.is_multiple_of(*scale) => format!("{}{unit}", bytes / scale),
        Some((unit, scale)) => format!("{:.1}{unit}", bytes as f64 / *scale as f64),
        None => bytes.to_string(),
    }
}

/// A number of CPUs (`0.5`, `2`), stored as the engine's nano-CPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpus {
    nano: i64,
    text: String,
}

impl Cpus {
    pub fn nano_cpus(&self) -> i64 {
        self.nano
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let value: f64 = trimmed
            .parse()
            .map_err(|_| format!("invalid CPU count {text:?}: expected a number such as 0.5"))?;
        if !value.is_finite() || value > 1_000_000.0 {
            return Err(format!("invalid CPU count {text:?}"));
        }
        Ok(Cpus {
            nano: (value * 1e9).round() as i64,
            text: trimmed.to_string(),
        })
    }

    pub fn canonical(&self) -> Self {
        Self::from_nano_cpus(self.nano)
    }

    pub fn from_nano_cpus(nano: i64) -> Self {
        let text = format!("{}", nano as f64 / 1e9);
        Cpus { nano, text }
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A duration written as in Docker and Go: `10s`, `1m30s`, `500ms`, `2h`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duration {
    value: std::time::Duration,
    text: String,
}

impl Duration {
    pub fn as_std(&self) -> std::time::Duration {
        self.value
    }

    pub fn nanos(&self) -> i64 {
        i64::try_from(self.value.as_nanos()).unwrap_or(i64::MAX)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(format!("duration {text:?} is negative"));
        }
        let nanos = go_duration_nanos(trimmed).map_err(|why| {
            format!(
                "invalid duration {text:?}: {why} (write it as Docker does: a number and a \
                 unit, ns, us, ms, s, m or h, repeated: 10s, 1m30s, 500ms, 1.5h)"
            )
        })?;
        Ok(Duration {
            value: std::time::Duration::from_nanos(nanos),
            text: trimmed.to_string(),
        })
    }

    pub fn canonical(&self) -> Self {
        Self::from_nanos(self.nanos())
    }

    /// The engine's nanoseconds, written in Go's units only (`25h`, `1m30s`, `1s500ms`), so
    /// that what shoal writes (plans, the health check it keeps in a label) parses back.
    pub fn from_nanos(nanos: i64) -> Self {
        let nanos = nanos.max(0) as u64;
        let mut rest = nanos;
        let mut text = String::new();
        for (unit, size) in [
            ("h", 3_600_000_000_000),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ] {
            if rest >= size {
                text.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        if text.is_empty() {
            text.push_str("0s");
        }
        Duration {
            value: std::time::Duration::from_nanos(nanos),
            text,
        }
    }
}

/// The longest duration Docker holds: Go's `time.Duration` is an int64 of nanoseconds.
const GO_DURATION_MAX: u64 = i64::MAX as u64;

/// Nanoseconds of a duration in the grammar of Go's `time.ParseDuration`, which Docker
/// uses: `0`, or one or more of a decimal number (a fraction allowed) and a unit, with
/// nothing between them. A fraction of a nanosecond is dropped, as Go drops it.
fn go_duration_nanos(text: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("empty".into());
    }
    let too_long = || "longer than Docker can hold (2562047h47m16.854775807s)".to_string();
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("{number:?} has no unit")),
            other => return Err(format!("unknown unit {other:?}")),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(format!("{unit:?} needs a number before it"));
        }
        if fraction.contains('.') {
            return Err(format!("{number:?} is not a number"));
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        // 18 digits of fraction are finer than a nanosecond of any unit.
        let (mut digits, mut scale) = (0u128, 1u128);
        for digit in fraction.bytes().take(18) {
            digits = digits * 10 + u128::from(digit - b'0');
            scale *= 10;
        }
        let value = whole
            .checked_mul(per_unit)
            .and_then(|v| v.checked_add(digits * per_unit / scale))
            .ok_or_else(too_long)?;
        total = total.checked_add(value).ok_or_else(too_long)?;
        if total > u128::from(GO_DURATION_MAX) {
            return Err(too_long());
        }
        rest = next;
    }
    Ok(total as u64)
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Deserializes any of the quantities from a YAML string or number, keeping the text.
struct QuantityVisitor<T> {
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
}

impl<T> Visitor<'_> for QuantityVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }
}

macro_rules! quantity_serde {
    ($ty:ident, $expecting:literal, $schema_name:literal, $description:literal, $pattern:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(QuantityVisitor {
                    parse: $ty::parse,
                    expecting: $expecting,
                })
            }
        }

        /// Serializes the canonical text (`300M` whether written `300M` or `0.29296875G`),
        /// so that equal quantities compare equal once serialized.
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.canonical().text)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": $description,
                    "anyOf": [
                        { "type": "string", "pattern": $pattern },
                        { "type": "number", "minimum": 0 }
                    ]
                })
            }
        }
    };
}

quantity_serde!(
    MemorySize,
    "a memory size such as 300M or 1.5G",
    "MemorySize",
    "A memory size with a binary unit: 300M, 1.5G, 512K; a bare number is bytes.",
    r"^\s*[0-9]+(\.[0-9]+)?\s*([kKmMgGtT]([iI]?[bB])?|[bB])?\s*$"
);
quantity_serde!(
    Cpus,
    "a CPU count such as 0.5",
    "Cpus",
    "A number of CPUs, fractional allowed: 0.5, 1, 1.5.",
    r"^\s*[0-9]+(\.[0-9]+)?\s*$"
);
quantity_serde!(
    Duration,
    "a duration such as 10s or 1m30s",
    "Duration",
    "A duration: 500ms, 10s, 1m30s, 2h.",
    r"^\s*(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)\s*$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_docker() {
        let table: &[(&str, u64)] = &[
            ("300M", 300 << 20),
            ("300m", 300 << 20),
            ("300MB", 300 << 20),
            ("300MiB", 300 << 20),
            ("1.5G", 3 << 29),
            ("1g", 1 << 30),
            ("512K", 512 << 10),
            ("2T", 2 << 40),
            ("1024", 1024),
            ("1024b", 1024),
            (" 64M ", 64 << 20),
            ("0", 0),
        ];
        for (text, bytes) in table {
            assert_eq!(MemorySize::parse(text).unwrap().bytes(), *bytes, "{text}");
        }
    }

    #[test]
    fn memory_sizes_reject_garbage_with_reason() {
        let table: &[(&str, &str)] = &[
            ("-300M", "size \"-300M\" is negative"),
            (
                "lots",
                "invalid size \"lots\": expected a number with an optional unit K, M, G or T",
            ),
            (
                "300X",
                "invalid size \"300X\": unknown unit \"X\" (use K, M, G or T)",
            ),
            (
                "",
                "invalid size \"\": expected a number with an optional unit K, M, G or T",
            ),
            (
                "1.2.3M",
                "invalid size \"1.2.3M\": expected a number with an optional unit K, M, G or T",
            ),
            (
                "8388608T",
                "size \"8388608T\" is larger than Docker can hold (8388607T)",
            ),
        ];
        assert_eq!(
            MemorySize::parse("8388607T").unwrap().bytes(),
            8_388_607 << 40
        );
        for (text, message) in table {
            assert_eq!(MemorySize::parse(text).unwrap_err(), *message, "{text}");
        }
    }

    #[test]
    fn memory_sizes_render_in_shortest_binary_unit() {
        let table: &[(u64, &str)] = &[
            (300 << 20, "300M"),
            (1 << 30, "1G"),
            (1536 << 20, "1536M"),
            (1000, "1000"),
            (4096, "4K"),
        ];
        for (bytes, text) in table {
            assert_eq!(MemorySize::from_bytes(*bytes).to_string(), *text);
        }
    }

    #[test]
    fn cpus_parse_to_nano_cpus() {
        let table: &[(&str, i64)] = &[
            ("0.5", 500_000_000),
            ("1", 1_000_000_000),
            ("1.25", 1_250_000_000),
            ("0", 0),
            ("-1", -1_000_000_000),
        ];
        for (text, nano) in table {
            assert_eq!(Cpus::parse(text).unwrap().nano_cpus(), *nano, "{text}");
        }
        assert_eq!(
            Cpus::parse("half").unwrap_err(),
            "invalid CPU count \"half\": expected a number such as 0.5"
        );
        assert_eq!(Cpus::from_nano_cpus(500_000_000).to_string(), "0.5");
    }

    #[test]
    fn durations_parse_like_go() {
        let table: &[(&str, u64)] = &[
            ("10s", 10_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("2h", 7_200_000),
            ("1.5h", 5_400_000),
            (".5s", 500),
            ("1h2m3s4ms", 3_723_004),
            ("0", 0),
            ("2562047h", 9_223_369_200_000),
        ];
        for (text, millis) in table {
            assert_eq!(
                Duration::parse(text).unwrap().as_std().as_millis() as u64,
                *millis,
                "{text}"
            );
        }
        assert_eq!(
            Duration::parse("-5s").unwrap_err(),
            "duration \"-5s\" is negative"
        );
        let hint = " (write it as Docker does: a number and a unit, ns, us, ms, s, m or h, \
                    repeated: 10s, 1m30s, 500ms, 1.5h)";
        for (text, why) in [
            ("10", "\"10\" has no unit"),
            ("10sec", "unknown unit \"sec\""),
            ("1d", "unknown unit \"d\""),
            ("1y", "unknown unit \"y\""),
            ("10 seconds", "unknown unit \" seconds\""),
            ("1m 5s", "unknown unit \"m \""),
            ("s", "\"s\" needs a number before it"),
            ("1.2.3s", "\"1.2.3\" is not a number"),
            (
                "2562048h",
                "longer than Docker can hold (2562047h47m16.854775807s)",
            ),
            (
                "99999999999999999999999999999999999999999h",
                "longer than Docker can hold (2562047h47m16.854775807s)",
            ),
        ] {
            assert_eq!(
                Duration::parse(text).unwrap_err(),
                format!("invalid duration {text:?}: {why}{hint}")
            );
        }
        assert_eq!(Duration::from_nanos(90_000_000_000).to_string(), "1m30s");
        // What shoal writes parses back, a day and more included.
        for nanos in [
            0,
            1_500_000_000,
            90_000_000_000,
            90_000_000_000_000,
            i64::MAX,
        ] {
            let text = Duration::from_nanos(nanos).to_string();
            assert_eq!(Duration::parse(&text).unwrap().nanos(), nanos, "{text}");
        }
        assert_eq!(Duration::from_nanos(90_000_000_000_000).to_string(), "25h");
    }
}
