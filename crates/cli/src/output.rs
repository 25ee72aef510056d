//! Writing results: stdout that tolerates a closed pipe, JSON, aligned tables, and
//! times people can read.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::failure::{Failure, Outcome};

/// Writes `text` and a newline to stdout. A closed pipe (`tokenhop token | head -c0`)
/// is not an error.
pub fn line(text: &str) -> Outcome {
    bytes(format!("{text}\n").as_bytes())
}

/// Writes raw bytes to stdout.
pub fn bytes(data: &[u8]) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(data).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Other(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes a JSON value, pretty.
pub fn json(value: &serde_json::Value) -> Outcome {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Other(format!("cannot format JSON: {e}")))?;
    line(&text)
}

/// Writes rows as columns separated by two spaces, the first row as the header.
pub fn table(rows: &[Vec<String>]) -> Outcome {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                cells.push(cell.clone());
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                cells.push(format!("{cell}{}", " ".repeat(pad)));
            }
        }
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    bytes(text.as_bytes())
}

/// An instant as RFC 3339 in UTC, e.g. `2026-11-23T10:15:00Z`.
pub fn rfc3339(epoch_seconds: u64) -> String {
    let days = epoch_seconds / 86_400;
    let rest = epoch_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// An instant and how far it is from now: `2026-11-23T10:15:00Z (in 59m)`.
pub fn when(epoch_seconds: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let relative = if epoch_seconds >= now {
        format!("in {}", span(epoch_seconds - now))
    } else {
        format!("{} ago", span(now - epoch_seconds))
    };
    format!("{} ({relative})", rfc3339(epoch_seconds))
}

/// A duration, coarsely: `45s`, `12m`, `3h 5m`, `2d 4h`.
fn span(seconds: u64) -> String {
    let d = seconds;
    match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m", d / 60),
        3600..86_400 => format!("{}h {}m", d / 3600, d % 3600 / 60),
        _ => format!("{}d {}h", d / 86_400, d % 86_400 / 3600),
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn spans_are_coarse() {
        assert_eq!(span(5), "5s");
        assert_eq!(span(125), "2m");
        assert_eq!(span(3 * 3600 + 300), "3h 5m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
    }
}
